"""A task that keeps failing for a transient reason is retried a bounded number of times, and its
last attempt ends it for good: a batch's items are recorded NOT_APPLIED (behind the same marker,
so the counts stay exact), a start fails its job, an export run fails its export. Proven with the
real stores made to fail (or a real conflict), and through the emulator's own retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.gcs_payloads import GcsPayloadStore
from shared.domain.bulk import BatchPlan
from shared.domain.models import BatchRange, JobStatus, JobType
from shared.domain.tenancy import Scope
from shared.errors import ConflictError, SynqError, UnavailableError
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.tasks import WorkerTask
from shared.settings import Settings
from tests.integration.conftest import CapturedQueue, JobsApi
from tests.integration.test_bulk_processing import Harness, items
from tests.integration.test_exports import ExportsApi, FlakyFiles
from tests.support import wait_until

MAX = Settings().batch_max_attempts


class CommitsFail(FirestoreJobStore):
    """Firestore answering 'unavailable' to every real batch commit (the batches in `failing`, or
    all); the give-up commit, which writes only the marker and counters, still lands."""

    def __init__(self, client: Any, scope: Scope, failing: set[int] | None = None) -> None:
        super().__init__(client, scope)
        self.failing = failing

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
        if plan.processed and (self.failing is None or batch.index in self.failing):
            raise UnavailableError("bulk job batch: storage temporarily unavailable")
        return super().commit_batch(job_id, batch, plan, now)


class PayloadsUnavailable(GcsPayloadStore):
    """Cloud Storage unavailable when a batch reads its slice of the payload."""

    def read(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        raise UnavailableError("payload: storage temporarily unavailable")


def processor(harness: Harness, store: FirestoreJobStore | None = None) -> BulkJobProcessor:
    built = harness.with_store(store or harness.store)
    built.max_attempts = MAX  # as wiring sets it from BATCH_MAX_ATTEMPTS
    return built


def deliver_until_last(flaky: BulkJobProcessor, task: WorkerTask, error: type[SynqError] = UnavailableError) -> str:
    """Every attempt before the last fails and asks for a retry; the last one's outcome."""
    for attempt in range(1, MAX):
        with pytest.raises(error):
            flaky.handle(task, attempt)
    return flaky.handle(task, MAX)


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue[WorkerTask]) -> Harness:
    return Harness(scope, queue)


def test_a_batch_failing_on_every_attempt_records_its_items_not_applied_on_the_last(
    harness: Harness, scope: Scope
) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))  # 3 batches of 40, 4 untitled in each
    tasks = harness.start(job_id)
    flaky = processor(harness, CommitsFail(wiring.firestore_client(), scope, failing={1}))
    for task in (tasks[0], tasks[2]):
        flaky.handle(task)
    assert deliver_until_last(flaky, tasks[1]) == "batch not applied (attempts exhausted)"

    job = harness.job(job_id)
    assert (job.status, job.total_items, job.processed_items, job.failed_items) == (JobStatus.COMPLETED, 120, 72, 48)
    assert job.batches_done == 3
    lost = [e for e in harness.store.job_errors(job_id, 1000, None).items if e.code == "NOT_APPLIED"]
    assert [e.index for e in lost] == list(range(40, 80))  # every item of the batch, none twice
    assert lost[0].message == (
        f"not applied: the batch failed {MAX} time(s); last: bulk job batch: storage temporarily unavailable"
    )
    assert harness.product_count() == 72 and len(harness.events(job_id)) == 72
    # A delivery that turns up late finds the batch done: nothing applied or counted again.
    assert processor(harness).handle(tasks[1]) == "batch already committed"
    assert harness.job(job_id).model_dump() == job.model_dump()


def test_the_last_attempt_of_a_batch_committed_before_records_nothing_more(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(40))
    [task] = harness.start(job_id)

    class DiesAfterCommit(FirestoreJobStore):
        def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
            super().commit_batch(job_id, batch, plan, now)
            raise UnavailableError("the answer was lost")

    with pytest.raises(UnavailableError):
        processor(harness, DiesAfterCommit(wiring.firestore_client(), scope)).handle(task, 1)
    # Every later attempt fails before it can see the marker; the last one gives up, and the
    # marker, created once, turns its NOT_APPLIED write away whole.
    flaky = processor(harness)
    flaky.payloads = PayloadsUnavailable(wiring.storage_client(), wiring.get_settings().payload_bucket)
    for attempt in range(2, MAX):
        with pytest.raises(UnavailableError):
            flaky.handle(task, attempt)
    assert flaky.handle(task, MAX) == "batch already committed"
    job = harness.job(job_id)
    assert (job.status, job.processed_items, job.failed_items) == (JobStatus.COMPLETED, 36, 4)
    assert {e.code for e in harness.store.job_errors(job_id, 100, None).items} == {"INVALID_ITEM"}


def test_an_update_that_keeps_meeting_a_concurrent_edit_is_not_applied_and_the_edit_stands(
    harness: Harness, scope: Scope
) -> None:
    seeded = harness.create(JobType.BULK_IMPORT, [{"title": f"P{i}", "sku": f"S{i}"} for i in range(3)])
    for task in harness.start(seeded):
        processor(harness).handle(task)
    ids = sorted(p.id for p in harness.products())
    job_id = harness.create(JobType.BULK_UPDATE, [{"id": pid, "description": "from the job"} for pid in ids])
    [task] = harness.start(job_id)
    root = f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products"

    class EditedEveryTime(FirestoreJobStore):
        """A person edits the first product between the batch's read and its write, every time:
        a real precondition conflict, not a simulated one."""

        def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
            if plan.processed:
                wiring.firestore_client().document(f"{root}/{ids[0]}").update({"title": f"Edited at {now}"})
            return super().commit_batch(job_id, batch, plan, now)

    contested = processor(harness, EditedEveryTime(wiring.firestore_client(), scope))
    assert deliver_until_last(contested, task, ConflictError) == "batch not applied (attempts exhausted)"
    job = harness.job(job_id)
    assert (job.status, job.processed_items, job.failed_items) == (JobStatus.FAILED, 0, 3)  # every item failed
    assert [(e.index, e.id, e.code) for e in job.errors] == [(i, pid, "NOT_APPLIED") for i, pid in enumerate(ids)]
    assert all(p.description is None for p in harness.products())  # nothing half applied
    assert harness.events(job_id) == []


def test_a_start_that_keeps_failing_fails_its_job(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    [start] = harness.queue.take()
    gone = CapturedQueue(WorkerTask)
    gone.delete()  # a queue that no longer exists: enqueueing the batches fails, for real
    failing = processor(harness)
    failing.tasks = gone
    for attempt in range(1, MAX):
        with pytest.raises(SynqError):
            failing.handle(start, attempt)
    assert harness.job(job_id).status is JobStatus.PROCESSING
    assert failing.handle(start, MAX) == "job FAILED: could not start"
    job = harness.job(job_id)
    assert job.status is JobStatus.FAILED and job.completed_at is not None
    assert job.failure_reason is not None and job.failure_reason.startswith(
        f"the job could not be started: {MAX} time(s); last: task queue:"
    )
    # A batch the start did manage to queue before failing finds the job failed and does nothing.
    assert processor(harness).handle(WorkerTask.batch(scope, job_id, 0)) == "job already FAILED"
    assert harness.job(job_id).processed_items == 0


def test_a_failed_job_keeps_its_outcome_when_failed_again(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(40))
    for task in harness.start(job_id):
        processor(harness).handle(task)
    done = harness.job(job_id)
    harness.store.fail_job(job_id, "too late", wiring.utc_now())  # e.g. a check that acted on stale news
    assert harness.job(job_id).model_dump() == done.model_dump()


# --- through the emulator: Cloud Tasks' own retries, counted from its headers ------------------
def test_the_worker_gives_a_batch_up_on_the_last_delivery_cloud_tasks_makes(
    jobs: JobsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = wiring.bulk_job_processor
    deliveries: list[int] = []

    def failing_commits(scope: Scope) -> BulkJobProcessor:
        built = real(scope)
        built.jobs = CommitsFail(wiring.firestore_client(), scope)
        handle = built.handle

        def counted(task: WorkerTask, attempt: int = 1) -> str:
            if task.kind == "batch":
                deliveries.append(attempt)
            return handle(task, attempt)

        built.handle = counted  # type: ignore[method-assign]
        return built

    monkeypatch.setattr(wiring, "bulk_job_processor", failing_commits)
    job = jobs.run("BULK_IMPORT", [{"title": "A", "sku": "A"}, {"title": "B", "sku": "B"}])
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("FAILED", 0, 2)
    assert [e["code"] for e in job["errors"]] == ["NOT_APPLIED"] * 2
    assert f"failed {MAX} time(s)" in job["errors"][0]["message"]
    assert deliveries == list(range(1, MAX + 1))  # numbered from the retry count; none after the last
    assert jobs.products() == []


@pytest.mark.parametrize(("step", "reason"), [("write", "crashed in write"), ("publish", "gave up after 3 attempts")])
def test_an_export_answering_503_on_every_run_fails_after_its_attempts(
    exports: ExportsApi, jobs: JobsApi, monkeypatch: pytest.MonkeyPatch, step: str, reason: str
) -> None:
    jobs.run("BULK_IMPORT", [{"title": f"P{i}", "sku": f"S{i}"} for i in range(5)])  # the crash is 3 rows in
    failing = FlakyFiles(crash_on=step, times=1000)  # raises UnavailableError: the worker answers 503
    monkeypatch.setattr(wiring, "export_files", lambda: failing)
    export_id = exports.start()["id"]
    done = wait_until(lambda: (e := exports.get(export_id))["status"] == "FAILED" and e, timeout=60, interval=0.2)
    assert done["failure_reason"] == reason and done["download_url"] is None
    stored = wiring.export_processor(Scope(done["tenant_id"], done["org_id"])).store.get(export_id)
    max_attempts = Settings().export_max_attempts
    # A failure while writing ends the export on its last run; one after the claim is ended by
    # the next delivery, which counts itself and stops.
    assert stored.attempts == (max_attempts if step == "write" else max_attempts + 1)


@pytest.fixture()
def exports(client: Any, auth: dict[str, str]) -> ExportsApi:
    return ExportsApi(client, auth)
