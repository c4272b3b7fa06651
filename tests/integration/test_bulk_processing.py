"""At-least-once delivery, proven against the emulators: the worker's tasks are captured in a
paused Cloud Tasks queue and delivered by the test itself, twice, concurrently, or after a
crash, and every job must end with each item applied exactly once and exact counters."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from google.cloud.firestore_v1 import FieldFilter

from shared import wiring
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.firestore.quality import FirestoreIssueStore
from shared.domain.bulk import BatchPlan
from shared.domain.catalog import Collection, Product
from shared.domain.models import BatchRange, BulkJob, JobStatus, JobType
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import ConflictError, PermanentTaskError
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.quality import Quality
from shared.services.tasks import WorkerTask, batch_task_name
from tests.integration.conftest import CapturedQueue
from tests.support import concurrently, deliver

LIMITS = BulkLimits(
    max_job_items=100_000, batch_max_items=40, batch_max_bytes=4_000_000, inline_payload_max_bytes=256 * 1024
)


class Harness:
    def __init__(self, scope: Scope, queue: CapturedQueue) -> None:
        self.scope = scope
        self.queue = queue
        self.store = FirestoreJobStore(wiring.firestore_client(), scope)
        self.catalog = FirestoreCatalogStore(wiring.firestore_client(), scope)
        self.jobs = BulkJobs(self.store, wiring.payload_store(), queue, LIMITS, wiring.utc_now)
        self.processor = self.with_store(self.store)

    def with_store(self, store: FirestoreJobStore) -> BulkJobProcessor:
        return BulkJobProcessor(
            store, self.catalog, wiring.payload_store(), self.queue, wiring.quality(self.scope), wiring.utc_now
        )

    def products(self) -> list[Product]:
        found, cursor = [], None
        while True:
            page = self.catalog.list_products(100, cursor)
            found += page.items
            if not page.next_cursor:
                return found
            cursor = page.next_cursor

    def events(self, job_id: str) -> list[dict[str, Any]]:
        root = f"tenants/{self.scope.tenant_id}/orgs/{self.scope.org_id}/audit_events"
        query = wiring.firestore_client().collection(root).where(filter=FieldFilter("job_id", "==", job_id))
        return [s.to_dict() for s in query.stream()]

    def create(self, job_type: JobType, payload: list[Any]) -> str:
        actor = Principal(email="owner@example.com", role=Role.ADMIN, scope=self.scope)
        return self.jobs.create(actor, job_type, payload).id

    def start(self, job_id: str) -> list[WorkerTask]:
        [start] = self.queue.take()
        assert start.kind == "start" and start.job_id == job_id
        self.processor.handle(start)
        return self.queue.take()

    def job(self, job_id: str) -> BulkJob:
        """The job as the API shows it: its counts as its markers have them."""
        return self.store.with_progress(self.store.get_job(job_id))

    def product_count(self) -> int:
        return len(self.products())


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue) -> Harness:
    return Harness(scope, queue)


def items(count: int) -> list[dict[str, Any]]:
    return [{"title": f"Item {i}", "sku": f"S{i}"} if i % 10 else {"sku": f"untitled {i}"} for i in range(count)]


def assert_exact(job: BulkJob, processed: int, failed: int) -> None:
    assert (job.status, job.total_items, job.processed_items, job.failed_items) == (
        JobStatus.COMPLETED,
        processed + failed,
        processed,
        failed,
    )
    assert job.batches_done == job.batch_count


def test_every_batch_delivered_twice_is_applied_once(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(200))
    batches = harness.start(job_id)
    assert len(batches) == 5
    for task in batches:
        harness.processor.handle(task)
        assert harness.processor.handle(task) == "batch already committed"
    job = harness.job(job_id)
    assert_exact(job, 180, 20)
    completed_at = job.completed_at
    for task in batches:  # late redeliveries after completion change nothing
        harness.processor.handle(task)
    assert harness.job(job_id).completed_at == completed_at
    assert harness.product_count() == 180
    assert len(harness.events(job_id)) == 180  # one audit event per change, never two


def test_each_batch_leaves_one_marker_of_what_it_did_and_moves_the_job(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    first, second = harness.start(job_id)
    started = harness.job(job_id)
    harness.processor.handle(first)
    progressed = harness.job(job_id)
    # Pollers see the batch in the counts, read from its markers; the job document itself is not
    # written by a batch (no hot document).
    assert progressed.status is JobStatus.PROCESSING
    assert (progressed.processed_items, progressed.failed_items, progressed.batches_done) == (36, 4, 1)
    assert harness.store.get_job(job_id).updated_at == started.updated_at
    harness.processor.handle(second)
    job = harness.job(job_id)
    root = f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/bulk_jobs/{job_id}/batches"
    markers = [snap.to_dict() for snap in wiring.firestore_client().collection(root).order_by("index").stream()]
    assert [{k: m[k] for k in ("index", "first_item", "processed", "failed", "has_errors")} for m in markers] == [
        {"index": 0, "first_item": 0, "processed": 36, "failed": 4, "has_errors": True},
        {"index": 1, "first_item": 40, "processed": 36, "failed": 4, "has_errors": True},
    ]
    assert [[e["index"] for e in m["errors"]] for m in markers] == [[0, 10, 20, 30], [40, 50, 60, 70]]
    assert started.updated_at < markers[0]["committed_at"] <= markers[1]["committed_at"] <= job.completed_at
    assert job.updated_at == job.completed_at


def test_a_job_whose_stored_payload_is_gone_is_failed_for_good(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    first, _ = harness.start(job_id)
    bucket = wiring.storage_client().bucket(wiring.get_settings().payload_bucket)
    bucket.blob(harness.job(job_id).payload_object).delete()
    with pytest.raises(PermanentTaskError, match=f"payload of job {job_id} unreadable"):
        harness.processor.handle(first)
    job = harness.job(job_id)
    assert (job.status, job.failure_reason, job.processed_items) == (
        JobStatus.FAILED,
        "the stored payload is unreadable (batch 0)",
        0,
    )
    assert job.completed_at is not None and job.updated_at == job.completed_at
    assert harness.processor.handle(first) == "job already FAILED"


def test_a_start_marks_the_job_processing_and_moves_it_at_the_start_time(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    created = harness.job(job_id)
    at = created.created_at + timedelta(minutes=3)
    started = harness.store.start_job(job_id, at)
    stored = harness.job(job_id)
    for job in (started, stored):  # what the worker goes on with, and what the store keeps
        assert (job.status, job.total_items, job.started_at, job.updated_at) == (JobStatus.PROCESSING, 80, at, at)
    # A start met again (redelivered) answers the job as it is and moves nothing.
    assert harness.store.start_job(job_id, at + timedelta(minutes=1)) == stored
    assert harness.job(job_id) == stored


def test_a_redelivered_start_does_not_restart_the_job(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    [start] = harness.queue.take()
    harness.processor.handle(start)
    started_at = harness.job(job_id).started_at
    harness.processor.handle(start)  # redelivered: re-enqueues, which must stay harmless
    assert harness.job(job_id).started_at == started_at
    # Queued again under the same names, which production Cloud Tasks refuses; the emulator keeps
    # both copies, so count names, not tasks, and deliver every copy anyway.
    named = harness.queue.take_named()
    assert {name for name, _ in named} == {batch_task_name(job_id, 0), batch_task_name(job_id, 1)}
    assert {(t.kind, t.batch_index) for _, t in named} == {("batch", 0), ("batch", 1)}
    for _, task in named:
        harness.processor.handle(task)
    assert_exact(harness.job(job_id), 72, 8)
    harness.processor.handle(start)  # a start delivered after completion does nothing
    assert harness.job(job_id).status is JobStatus.COMPLETED and harness.queue.take() == []


class Recording(FirestoreJobStore):
    """The real store, remembering which batches each delivery committed and every finished job a
    finish call answered with."""

    def __init__(self, client: Any, scope: Scope) -> None:
        super().__init__(client, scope)
        self.commits: Counter[int] = Counter()
        self.finished: list[BulkJob] = []
        self._lock = threading.Lock()

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
        versions = super().commit_batch(job_id, batch, plan, now)
        if versions is not None:
            with self._lock:
                self.commits[batch.index] += 1
        return versions

    def finish_job_if_done(self, job_id: str, now: datetime) -> BulkJob:
        job = super().finish_job_if_done(job_id, now)
        if job.status is not JobStatus.PROCESSING:
            with self._lock:
                self.finished.append(job)
        return job


def test_concurrent_deliveries_of_one_batch_commit_it_once(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(160))
    recording = Recording(wiring.firestore_client(), scope)
    processor = harness.with_store(recording)
    for task in harness.start(job_id):
        barrier = threading.Barrier(3)

        def at_once(task: WorkerTask = task, barrier: threading.Barrier = barrier) -> str:
            barrier.wait(timeout=30)
            return deliver(processor.handle, task)

        outcomes = concurrently(at_once, at_once, at_once)
        assert all(isinstance(o, str) and o.startswith("batch ") for o in outcomes), outcomes
    assert recording.commits == dict.fromkeys(range(4), 1)  # one winner per batch; the others found it done
    assert_exact(harness.job(job_id), 144, 16)
    assert harness.product_count() == 144
    assert len(harness.events(job_id)) == 144  # one audit event per change, never two


def test_batches_racing_each_other_complete_the_job_exactly_once(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(400))
    tasks = harness.start(job_id)
    assert len(tasks) == 10
    recording = Recording(wiring.firestore_client(), scope)
    processor = harness.with_store(recording)

    def worker(mine: list[WorkerTask]) -> None:
        for task in mine:
            deliver(processor.handle, task)

    assert concurrently(*(partial(worker, tasks[i::4]) for i in range(4))) == [None] * 4
    assert recording.commits == dict.fromkeys(range(10), 1)
    job = harness.job(job_id)
    assert_exact(job, 360, 40)
    # Every delivery that saw the job finished saw the same completion: it was finished once.
    assert {(j.status, j.completed_at) for j in recording.finished} == {(JobStatus.COMPLETED, job.completed_at)}
    assert harness.product_count() == 360
    assert len(harness.events(job_id)) == 360  # one audit event per change, never two


class NeverFinishes(FirestoreJobStore):
    """Commits batches but leaves finishing the job to the test."""

    def finish_job_if_done(self, job_id: str, now: datetime) -> BulkJob:
        return self.get_job(job_id)


class MeetsBeforeFinishing(FirestoreJobStore):
    """Finishers that have each read the job with every batch done before either finishes it."""

    def __init__(self, client: Any, scope: Scope, barrier: threading.Barrier) -> None:
        super().__init__(client, scope)
        self.barrier = barrier

    def get_job(self, job_id: str) -> BulkJob:
        job = super().get_job(job_id)
        self.barrier.wait(timeout=30)
        return job


def test_two_deliveries_finishing_the_job_at_once_finish_it_once(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))
    tasks = harness.start(job_id)
    quiet = harness.with_store(NeverFinishes(wiring.firestore_client(), scope))
    for task in tasks:
        quiet.handle(task)
    before = harness.job(job_id)
    assert (before.status, before.batches_done) == (JobStatus.PROCESSING, 2)

    racing = MeetsBeforeFinishing(wiring.firestore_client(), scope, threading.Barrier(2))
    first, second = wiring.utc_now(), wiring.utc_now() + timedelta(seconds=1)
    results = concurrently(
        lambda: racing.finish_job_if_done(job_id, first), lambda: racing.finish_job_if_done(job_id, second)
    )
    job = harness.job(job_id)
    assert job.status is JobStatus.COMPLETED and job.completed_at in (first, second)
    # The loser's transaction found the job no longer PROCESSING and left it as the winner wrote it.
    assert [(r.status, r.completed_at, r.updated_at) for r in results] == [  # type: ignore[union-attr]
        (job.status, job.completed_at, job.updated_at)
    ] * 2
    assert [e.index for e in job.errors] == list(range(0, 80, 10))


class DiesAfterCommit(FirestoreJobStore):
    """The process dies right after a batch's write lands, before it could answer the task."""

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> bool:
        super().commit_batch(job_id, batch, plan, now)
        raise SystemExit("worker died after commit")


class DiesBeforeCommit(FirestoreJobStore):
    """The process dies after reading and planning, before its write is sent."""

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> bool:
        raise SystemExit("worker died before commit")


def test_a_batch_that_died_after_committing_is_finished_by_its_redelivery(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    tasks = harness.start(job_id)
    dying = harness.with_store(DiesAfterCommit(wiring.firestore_client(), scope))
    for task in tasks:
        with pytest.raises(SystemExit):
            dying.handle(task)
    job = harness.job(job_id)
    assert job.status is JobStatus.PROCESSING  # nobody lived to flip it
    assert (job.processed_items, job.failed_items) == (108, 12)
    outcomes = [harness.processor.handle(task) for task in tasks]  # redelivery of the unacknowledged
    assert outcomes == ["batch already committed"] * len(tasks)
    assert_exact(harness.job(job_id), 108, 12)
    assert harness.product_count() == 108
    assert len(harness.events(job_id)) == 108  # one audit event per change, never two


def test_a_batch_that_died_before_committing_left_nothing_half_written(harness: Harness, scope: Scope) -> None:
    harness_import = harness.create(JobType.BULK_IMPORT, [{"title": f"P{i}", "sku": f"S{i}"} for i in range(50)])
    for task in harness.start(harness_import):
        harness.processor.handle(task)
    ids = sorted(p.id for p in harness.products())
    job_id = harness.create(JobType.BULK_UPDATE, [{"id": pid, "title": "Renamed"} for pid in ids])
    tasks = harness.start(job_id)
    dying = harness.with_store(DiesBeforeCommit(wiring.firestore_client(), scope))
    with pytest.raises(SystemExit):
        dying.handle(tasks[0])
    job = harness.job(job_id)
    assert (job.processed_items, job.failed_items, job.batches_done) == (0, 0, 0)
    assert all(p.title != "Renamed" for p in harness.products())
    for task in tasks:
        harness.processor.handle(task)
    assert_exact(harness.job(job_id), 50, 0)
    assert sorted(e["action"] for e in harness.events(job_id)) == ["product.updated"] * 50
    assert {p.title for p in harness.products()} == {"Renamed"}


def test_a_product_edited_during_a_batch_makes_the_batch_retry_not_overwrite(harness: Harness, scope: Scope) -> None:
    created = harness.create(JobType.BULK_IMPORT, [{"title": "Original", "sku": "A"}])
    for task in harness.start(created):
        harness.processor.handle(task)
    [product] = harness.products()
    job_id = harness.create(JobType.BULK_UPDATE, [{"id": product.id, "description": "from the job"}])
    [task] = harness.start(job_id)
    products_ref = wiring.firestore_client().document(
        f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products/{product.id}"
    )

    class EditedMeanwhile(FirestoreJobStore):
        def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> bool:
            products_ref.update({"title": "Edited by a person"})  # lands between our read and our write
            return super().commit_batch(job_id, batch, plan, now)

    with pytest.raises(ConflictError):
        harness.with_store(EditedMeanwhile(wiring.firestore_client(), scope)).handle(task)
    assert harness.job(job_id).processed_items == 0
    harness.processor.handle(task)  # the retry reads the new version and applies on top of it
    assert_exact(harness.job(job_id), 1, 0)
    after = harness.catalog.get(Collection.PRODUCTS, product.id)[0]
    assert (after.title, after.description) == ("Edited by a person", "from the job")


# --- a batch that writes nothing: every item refused, so no product write guards it -------------
class MeetsAtCommit(FirestoreJobStore):
    """Deliveries that have each read and planned the batch before either commits it."""

    def __init__(self, client: Any, scope: Scope, barrier: threading.Barrier) -> None:
        super().__init__(client, scope)
        self.barrier = barrier

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
        self.barrier.wait(timeout=30)
        return super().commit_batch(job_id, batch, plan, now)


REFUSED = {
    "BULK_IMPORT": lambda n: [{"sku": f"untitled {i}"} for i in range(n)],
    "BULK_UPDATE": lambda n: [{"id": str(uuid.uuid4()), "title": "ghost"} for _ in range(n)],
    "BULK_DELETE": lambda n: [str(uuid.uuid4()) for _ in range(n)],
}


def assert_refused_once(harness: Harness, job_id: str, count: int) -> None:
    job = harness.job(job_id)
    assert (job.status, job.total_items, job.processed_items, job.failed_items, job.batches_done) == (
        JobStatus.FAILED,
        count,
        0,
        count,
        1,
    )
    assert [e.index for e in job.errors] == list(range(count))
    assert [e.index for e in harness.store.job_errors(job_id, 100, None).items] == list(range(count))
    assert harness.events(job_id) == [] and harness.product_count() == 0


@pytest.mark.parametrize("job_type", sorted(REFUSED))
def test_a_batch_that_writes_nothing_delivered_twice_at_once_is_counted_once(
    harness: Harness, scope: Scope, job_type: str
) -> None:
    job_id = harness.create(JobType(job_type), REFUSED[job_type](30))
    [task] = harness.start(job_id)
    racing = harness.with_store(MeetsAtCommit(wiring.firestore_client(), scope, threading.Barrier(2)))
    outcomes = concurrently(lambda: racing.handle(task), lambda: racing.handle(task))
    assert sorted(outcomes, key=str) == ["batch already committed (concurrent delivery)", "batch committed"]
    assert_refused_once(harness, job_id, 30)


def test_a_batch_that_writes_nothing_redelivered_is_counted_once(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_DELETE, REFUSED["BULK_DELETE"](30))
    [task] = harness.start(job_id)
    with pytest.raises(SystemExit):
        harness.with_store(DiesAfterCommit(wiring.firestore_client(), scope)).handle(task)
    assert harness.job(job_id).status is JobStatus.PROCESSING  # nobody lived to finish it
    assert harness.processor.handle(task) == "batch already committed"  # the redelivery finishes it
    finished = harness.job(job_id)
    assert harness.processor.handle(task) == "job already FAILED"  # a late copy changes nothing
    assert harness.job(job_id) == finished
    assert_refused_once(harness, job_id, 30)


class DiesWhileJudging(Quality):
    """The worker dies after its batch committed, while it judges the batch's products."""

    def evaluate(self, *args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the worker died while judging its batch")


def test_a_job_completes_once_every_batch_is_judged_not_only_committed(harness: Harness, scope: Scope) -> None:
    """With batches in flight side by side, one may commit last while another is still judging its
    products: the job is COMPLETED only once that judging is done too, so its issues are settled
    when a client sees COMPLETED."""
    imported = harness.create(JobType.BULK_IMPORT, [{"title": f"Lamp {i}", "sku": f"L{i}"} for i in range(80)])
    for task in harness.start(imported):
        harness.processor.handle(task)
    issues = FirestoreIssueStore(wiring.firestore_client(), scope)

    def undescribed() -> int:
        return len(issues.list_issues({"code": "MISSING_DESCRIPTION"}, 100, None).items)

    assert harness.job(imported).status is JobStatus.COMPLETED and undescribed() == 80
    description = "A sturdy lamp, tested for daily use, with a two-year warranty."
    update = harness.create(JobType.BULK_UPDATE, [{"id": p.id, "description": description} for p in harness.products()])
    first, second = harness.start(update)  # two batches of 40, both in flight
    quality = wiring.quality(scope)
    dying = BulkJobProcessor(
        harness.store,
        harness.catalog,
        wiring.payload_store(),
        harness.queue,
        DiesWhileJudging(**vars(quality)),
        wiring.utc_now,
    )
    with pytest.raises(RuntimeError):
        dying.handle(first)  # committed, not judged: Cloud Tasks will deliver it again
    assert harness.processor.handle(second) == "batch committed"
    assert harness.job(update).status is JobStatus.PROCESSING  # every batch committed, one not judged
    assert undescribed() == 40
    assert harness.processor.handle(first) == "batch already committed"
    assert_exact(harness.job(update), 80, 0)
    assert undescribed() == 0
