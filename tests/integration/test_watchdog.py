"""The job watchdog against the emulators: tasks captured in a paused queue and never delivered (as
if the queue was purged or the task deleted), then the scheduled check run with a clock the test
moves. Lost work is re-queued under fresh names, ended after too many rescues, left alone while it
moves, and two checks at once act once."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
import pytest

from shared import wiring
from shared.adapters.firestore import wire
from shared.adapters.firestore.exports import FirestoreExportStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.firestore.uploads import FirestoreUploadStore
from shared.adapters.firestore.watchdog import FirestoreWatchdogStore
from shared.domain.exports import DeliveryStatus, ExportStatus
from shared.domain.models import JobStatus, JobType, UploadFormat
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import ConflictError
from shared.services.bulk_jobs import BulkJobs
from shared.services.tasks import ExportTask, JobNoticeTask, WorkerTask
from shared.services.watchdog import Watchdog, WatchdogPolicy, WatchdogReport
from shared.settings import Settings
from tests.conftest import ROOT
from tests.integration.conftest import CapturedQueue, JobsApi
from tests.integration.test_bulk_processing import LIMITS, DiesAfterCommit, Harness, assert_exact, items
from tests.integration.test_exports import FlakyFiles, seed
from tests.integration.test_exports import Harness as ExportHarness

SETTINGS = Settings()
JOB_STALL = timedelta(seconds=SETTINGS.watchdog_job_stall_seconds)
EXPORT_STALL = timedelta(seconds=SETTINGS.watchdog_export_stall_seconds)
MAX_RESCUES = SETTINGS.watchdog_max_rescues
SECOND = timedelta(seconds=1)


class Clock:
    """The time every part of a test reads: records are stamped with it and the check judges by it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, span: timedelta) -> None:
        self.now += span


class NamedQueue(CapturedQueue[Any]):
    def names(self) -> list[str]:
        """The short names of every task queued so far."""
        return sorted(t.name.rsplit("/", 1)[-1] for t in wiring.tasks_client().list_tasks(parent=self.path))


class Jobs(Harness):
    """The bulk-job harness, on the test's clock, with a watchdog beside it."""

    def __init__(self, scope: Scope, queue: NamedQueue, clock: Clock, export_queue: NamedQueue) -> None:
        self.clock = clock
        self.export_queue = export_queue
        super().__init__(scope, queue)
        self.jobs = BulkJobs(self.store, wiring.payload_store(), queue, LIMITS, clock)
        self.processor = self.with_store(self.store)

    def with_store(self, store: FirestoreJobStore) -> Any:
        processor = super().with_store(store)
        processor.clock = self.clock
        return processor

    def watchdog(self, timer: Callable[[], float] | None = None) -> Watchdog:
        client = wiring.firestore_client()
        dog = Watchdog(
            FirestoreWatchdogStore(client, tenant_ids={self.scope.tenant_id}),  # other tests' records stay theirs
            lambda scope: FirestoreJobStore(client, scope),
            lambda scope: FirestoreExportStore(client, scope),
            self.queue,
            self.export_queue,
            WatchdogPolicy(JOB_STALL, EXPORT_STALL, MAX_RESCUES),
            self.clock,
        )
        if timer:
            dog.timer = timer
        return dog

    def export_tasks(self) -> list[tuple[str, Any]]:
        """(short name, task) of everything on the exports queue, oldest name first."""
        tasks = wiring.tasks_client().list_tasks(parent=self.export_queue.path)
        return sorted(((t.name.rsplit("/", 1)[-1], t) for t in tasks), key=lambda pair: pair[0])

    def check(self, after: timedelta = JOB_STALL + SECOND) -> WatchdogReport:
        """Let `after` pass in silence, then run the check."""
        self.clock.advance(after)
        return self.watchdog().run(60)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def job_queue(stack_env: dict[str, str]) -> Iterator[NamedQueue]:
    captured = NamedQueue(WorkerTask)
    yield captured
    captured.delete()


@pytest.fixture()
def export_queue(stack_env: dict[str, str]) -> Iterator[NamedQueue]:
    captured = NamedQueue(ExportTask)
    yield captured
    captured.delete()


@pytest.fixture()
def h(scope: Scope, job_queue: NamedQueue, clock: Clock, export_queue: NamedQueue) -> Jobs:
    return Jobs(scope, job_queue, clock, export_queue)


def report(**counts: int) -> WatchdogReport:
    return WatchdogReport(**counts)


# --- bulk jobs -----------------------------------------------------------------------------------
def test_a_job_whose_start_task_vanished_is_started_by_the_check(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(80))
    original = h.queue.names()
    h.queue.take()  # never delivered: as good as purged
    assert h.check(JOB_STALL - SECOND) == report()  # silent, but not yet for long enough
    assert h.check(2 * SECOND) == report(jobs_rescued=1)
    assert h.queue.names() == sorted([*original, f"{job_id}-start-r1"])  # a fresh name
    [start] = h.queue.take()
    h.processor.handle(start)
    for task in h.queue.take():
        h.processor.handle(task)
    assert_exact(h.job(job_id), 72, 8)
    assert h.job(job_id).rescues == 1


def test_lost_batches_are_requeued_under_fresh_names_and_the_job_completes(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(200))
    tasks = h.start(job_id)
    for task in tasks[:2]:
        h.processor.handle(task)
    assert h.check() == report(jobs_rescued=1)
    rescued = h.queue.take()
    assert sorted(t.batch_index for t in rescued) == [2, 3, 4]  # only the batches without a marker
    assert {f"{job_id}-batch-{i:05d}-r1" for i in (2, 3, 4)} <= set(h.queue.names())
    for task in rescued:
        h.processor.handle(task)
    assert_exact(h.job(job_id), 180, 20)
    assert h.product_count() == 180 and len(h.events(job_id)) == 180


def test_requeueing_a_job_whose_tasks_were_only_slow_is_harmless(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(120))
    originals = h.start(job_id)
    assert h.check() == report(jobs_rescued=1)
    rescued = h.queue.take()
    assert len(rescued) == len(originals) == 3
    for task in [*rescued, *originals]:  # the slow originals turn up after all
        h.processor.handle(task)
    assert_exact(h.job(job_id), 108, 12)
    assert h.product_count() == 108 and len(h.events(job_id)) == 108


def test_a_slow_but_alive_job_is_left_alone(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(200))
    tasks = h.start(job_id)
    for i, task in enumerate(tasks):
        h.clock.advance(JOB_STALL - SECOND)  # every batch takes nearly the whole allowance
        # Batches never write the job document, so from the second check on the job looks silent
        # to the query; its newest batch marker, read in the claim, says it is not.
        assert h.watchdog().run(60) == (report() if i == 0 else report(skipped=1))
        h.processor.handle(task)
    assert_exact(h.job(job_id), 180, 20)
    assert h.job(job_id).rescues == 0 and h.queue.take() == []


def test_a_job_whose_batches_all_committed_but_was_never_finished_is_finished(h: Jobs, scope: Scope) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(80))
    tasks = h.start(job_id)
    dying = h.with_store(DiesAfterCommit(wiring.firestore_client(), scope))
    for task in tasks:
        with pytest.raises(SystemExit):
            dying.handle(task)
    assert h.job(job_id).status is JobStatus.PROCESSING
    assert h.check() == report(jobs_finished=1)
    assert_exact(h.job(job_id), 72, 8)
    assert h.queue.take() == []  # nothing was left to re-queue


def test_a_job_whose_tasks_keep_vanishing_is_failed_with_exact_counts(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(120))
    tasks = h.start(job_id)
    h.processor.handle(tasks[0])
    for rescue in range(1, MAX_RESCUES + 1):
        assert h.check() == report(jobs_rescued=1)
        assert {t.batch_index for t in h.queue.take()} == {1, 2}  # lost again
        assert h.job(job_id).rescues == rescue
    assert h.check() == report(jobs_failed=1)
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED and job.failure_reason == (
        f"no progress for {JOB_STALL.total_seconds() / 60:g} minutes after {MAX_RESCUES} rescue(s): its tasks were lost"
    )
    # Counts add up: the batches never run are recorded NOT_APPLIED behind their markers.
    assert (job.total_items, job.processed_items, job.failed_items, job.batches_done) == (120, 36, 84, 3)
    not_applied = [e for e in h.store.job_errors(job_id, 1000, None).items if e.code == "NOT_APPLIED"]
    assert [e.index for e in not_applied] == list(range(40, 120))
    assert h.queue.take() == []
    # A FAILED job is never run again; only its announcement, whose task is lost here too, is re-queued.
    assert h.check() == report(notifications_rescued=1)
    assert h.processor.handle(tasks[1]) == "job already FAILED"  # a task turning up late changes nothing
    announcement = {"notification", "notify_rescues", "updated_at"}
    assert h.job(job_id).model_dump(exclude=announcement) == job.model_dump(exclude=announcement)


def test_a_pending_job_whose_starts_keep_vanishing_is_failed(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(40))
    h.queue.take()
    for rescue in range(1, MAX_RESCUES + 1):
        assert h.check() == report(jobs_rescued=1)
        [start] = h.queue.take()
        assert start.kind == "start" and f"{job_id}-start-r{rescue}" in h.queue.names()
    assert h.check() == report(jobs_failed=1)
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED and job.failure_reason and job.total_items is None


def test_two_checks_at_once_rescue_and_fail_each_job_once(h: Jobs) -> None:
    pending = h.create(JobType.BULK_IMPORT, items(40))
    h.queue.take()
    processing = h.create(JobType.BULK_IMPORT, items(120))
    [start] = h.queue.take()
    h.processor.handle(start)
    h.queue.take()
    rescued = sum_of(race(h, 2))
    assert rescued.jobs_rescued == 2 and rescued.errors == 0  # each job claimed once, by one of them
    assert (h.job(pending).rescues, h.job(processing).rescues) == (1, 1)
    assert len(h.queue.take()) == 1 + 3  # one start, three batches: queued once, not twice
    for _ in range(MAX_RESCUES - 1):
        h.check()
        h.queue.take()
    failed = sum_of(race(h, 2))  # both give up at once
    assert failed.jobs_failed == 2 and failed.errors == 0
    job = h.job(processing)
    assert (job.status, job.processed_items, job.failed_items, job.batches_done) == (JobStatus.FAILED, 0, 120, 3)
    assert len(h.store.job_errors(processing, 1000, None).items) == 120  # each item recorded once
    assert h.job(pending).status is JobStatus.FAILED


def test_a_rescue_is_claimed_once_and_only_while_the_job_is_silent(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(40))
    h.clock.advance(JOB_STALL + SECOND)
    cutoff = h.clock() - JOB_STALL
    assert h.store.claim_rescue(job_id, h.clock() - JOB_STALL - 2 * SECOND, h.clock()) is None  # not silent enough
    assert h.store.claim_rescue(job_id, h.job(job_id).updated_at, h.clock()) is None  # moved at the cutoff itself
    claimed = h.store.claim_rescue(job_id, cutoff, h.clock())
    assert claimed is not None and claimed.rescues == 1
    assert h.store.claim_rescue(job_id, cutoff, h.clock()) is None  # a second check, same findings: too late
    assert h.job(job_id).rescues == 1


def test_a_job_that_finished_is_never_claimed_nor_failed(h: Jobs) -> None:
    """A check that found the job stalled may act just after its last batch finished it: the
    store's own guards keep the job's outcome, however long it has been silent."""
    job_id = h.create(JobType.BULK_IMPORT, items(80))
    for task in h.start(job_id):
        h.processor.handle(task)
    done = h.job(job_id)
    assert_exact(done, 72, 8)
    h.clock.advance(JOB_STALL + SECOND)
    assert h.store.claim_rescue(job_id, h.clock() - JOB_STALL, h.clock()) is None
    h.store.fail_job(job_id, "its tasks were lost", h.clock())
    assert h.job(job_id).model_dump() == done.model_dump()


def test_a_job_failed_part_way_keeps_the_item_errors_recorded_so_far(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(80))
    first, _ = h.start(job_id)
    h.processor.handle(first)  # 36 applied, items 0, 10, 20 and 30 failed
    h.clock.advance(JOB_STALL + SECOND)
    h.store.fail_job(job_id, "its tasks were lost", h.clock())
    job = h.job(job_id)
    assert (job.status, job.failure_reason, job.completed_at, job.updated_at) == (
        JobStatus.FAILED,
        "its tasks were lost",
        h.clock(),
        h.clock(),
    )
    assert [(e.index, e.code) for e in job.errors] == [(i, "INVALID_ITEM") for i in (0, 10, 20, 30)]


def race(h: Jobs, count: int) -> list[WatchdogReport]:
    """`count` checks started together, after the silence has lasted long enough."""
    h.clock.advance(JOB_STALL + SECOND)
    barrier = threading.Barrier(count)
    outcomes: list[WatchdogReport] = []

    def check() -> None:
        dog = h.watchdog()
        barrier.wait()
        outcomes.append(dog.run(60))

    threads = [threading.Thread(target=check) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def sum_of(reports: list[WatchdogReport]) -> WatchdogReport:
    fields = [f for f in WatchdogReport.model_fields if f != "status"]
    return WatchdogReport(**{f: sum(getattr(r, f) for r in reports) for f in fields})


def test_a_check_stops_at_its_budget_and_the_next_goes_on(h: Jobs) -> None:
    ids = [h.create(JobType.BULK_IMPORT, items(40)) for _ in range(3)]
    h.queue.take()
    h.clock.advance(JOB_STALL + SECOND)
    ticks = iter(range(100))
    first = h.watchdog(timer=lambda: float(next(ticks))).run(1.5)  # time for two records, not three
    assert first.status == "paused" and first.jobs_rescued == 2
    second = h.watchdog().run(60)  # the rescued no longer look silent: it takes up the third
    assert second == report(jobs_rescued=1)
    assert [h.job(i).rescues for i in ids] == [1, 1, 1]


# --- exports -------------------------------------------------------------------------------------
@pytest.fixture()
def exports(stack_env: dict[str, str], scope: Scope, jobs: JobsApi, h: Jobs) -> Iterator[ExportHarness]:
    seed(jobs, count=3)
    made = ExportHarness(scope, FlakyFiles())
    made.queue.delete()
    made.exports.clock = made.processor.clock = h.clock
    made.queue = h.export_queue  # the check re-queues export tasks where the test can see them
    made.exports.tasks = made.processor.tasks = h.export_queue
    yield made
    made.receiver.stop()


def deliver_now(exports: ExportHarness, task: ExportTask) -> str:
    """Deliver a notification signed at the real time: the receiver refuses a signature from the
    test clock's future as it would a replay from the past."""
    exports.processor.clock = wiring.utc_now
    return exports.deliver(task)


def test_an_export_whose_run_task_vanished_is_run_again(h: Jobs, exports: ExportHarness) -> None:
    export_id, _ = exports.start()  # its run task is never delivered
    assert h.check(JOB_STALL + SECOND) == report()  # an export may run for 30 minutes: not yet
    assert h.check(EXPORT_STALL) == report(exports_rescued=1)
    [run] = exports.queue.take()
    assert run.kind == "run" and f"{export_id}-run-r1" in h.export_queue.names()
    assert exports.deliver(run) == "completed"
    [notify] = exports.queue.take()
    assert (notify.kind, notify.attempt) == ("notify", 1)
    export = exports.export(export_id)
    assert export.status is ExportStatus.COMPLETED and export.row_count == 3 and export.rescues == 1
    assert exports.rows(export_id) and exports.objects()["tmp/exports/"] == []


def test_an_export_whose_runs_keep_vanishing_is_failed_and_announced(h: Jobs, exports: ExportHarness) -> None:
    export_id, _ = exports.start()
    for _ in range(MAX_RESCUES):
        assert h.check(EXPORT_STALL + SECOND) == report(exports_rescued=1)
        [run] = exports.queue.take()
        assert run.kind == "run"
    assert h.check(EXPORT_STALL + SECOND) == report(exports_failed=1)
    export = exports.export(export_id)
    reason = f"no progress for 45 minutes after {MAX_RESCUES} rescue(s): its run was lost"
    assert export.status is ExportStatus.FAILED and export.failure_reason == reason
    [notify] = exports.queue.take()
    deliver_now(exports, notify)
    [event] = exports.receiver.events
    assert event["event_type"] == "export.failed" and event["payload"]["failure_reason"] == reason


def test_a_notification_whose_next_attempt_vanished_is_sent(h: Jobs, exports: ExportHarness) -> None:
    exports.receiver.fail_first = 1
    export_id, run = exports.start()
    exports.deliver(run)
    [first] = exports.queue.take()
    assert exports.deliver(first).startswith("attempt 1 failed")
    exports.queue.take()  # attempt 2, lost
    assert h.check() == report(notifications_rescued=1)
    [second] = exports.queue.take()
    assert second.attempt == 2 and f"{export_id}-notify-2-r1" in h.export_queue.names()
    assert deliver_now(exports, second) == "delivered"
    assert exports.receiver.requests == 2 and len(exports.receiver.events) == 1
    assert h.check() == report()


def test_a_notification_waiting_for_its_next_attempt_is_left_alone(h: Jobs, exports: ExportHarness) -> None:
    export_id, run = exports.start()
    exports.deliver(run)
    exports.queue.take()
    delivery = exports.export(export_id).notification
    assert delivery is not None
    delivery.attempts, delivery.next_attempt_at = 3, h.clock() + 2 * JOB_STALL  # a long backoff
    exports.store.save_delivery(export_id, delivery, h.clock())
    assert h.check() == report(skipped=1)  # found, but its attempt is not due yet
    assert h.check(JOB_STALL) == report(skipped=1)  # due now, but only just
    assert h.check(JOB_STALL) == report(notifications_rescued=1)  # and now long overdue
    [fourth] = exports.queue.take()
    assert fourth.attempt == 4


def test_a_notification_whose_attempts_keep_vanishing_is_failed(h: Jobs, exports: ExportHarness) -> None:
    export_id, run = exports.start()
    exports.deliver(run)
    exports.queue.take()
    for _ in range(MAX_RESCUES):
        assert h.check() == report(notifications_rescued=1)
        exports.queue.take()
    assert h.check() == report(notifications_failed=1)
    export = exports.export(export_id)
    assert export.status is ExportStatus.COMPLETED  # the file is fine; only the notice failed
    assert export.notification and export.notification.status is DeliveryStatus.FAILED
    assert export.notification.last_error == (
        f"no attempt for {JOB_STALL.total_seconds() / 60:g} minutes after {MAX_RESCUES} rescue(s): its tasks were lost"
    )
    assert exports.receiver.requests == 0


def test_an_export_rescue_is_claimed_once_and_only_while_it_is_silent(h: Jobs, exports: ExportHarness) -> None:
    export_id, _ = exports.start()
    h.clock.advance(EXPORT_STALL + SECOND)
    cutoff = h.clock() - EXPORT_STALL
    assert exports.store.claim_rescue(export_id, cutoff - 2 * SECOND, h.clock()) is None
    claimed = exports.store.claim_rescue(export_id, cutoff, h.clock())
    assert claimed is not None and claimed.rescues == 1
    assert exports.store.claim_rescue(export_id, cutoff, h.clock()) is None
    assert exports.store.claim_notify_rescue(export_id, cutoff, h.clock()) is None  # nothing to notify yet


def test_two_checks_at_once_rescue_an_export_once(h: Jobs, exports: ExportHarness) -> None:
    export_id, _ = exports.start()
    h.clock.advance(EXPORT_STALL)
    rescued = sum_of(race(h, 2))
    assert rescued.exports_rescued == 1 and rescued.errors == 0
    assert exports.export(export_id).rescues == 1 and len(exports.queue.take()) == 1


# --- the scheduled function ----------------------------------------------------------------------
def test_the_watchdog_function_runs_without_the_task_token_and_reports(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_AUTH_TOKEN", "s3cret-token")  # the workers check it; the watchdog must not
    monkeypatch.setenv("WATCHDOG_JOB_STALL_SECONDS", str(30 * 24 * 3600))  # leave other tests' records be
    monkeypatch.setenv("WATCHDOG_EXPORT_STALL_SECONDS", str(30 * 24 * 3600))
    wiring.get_settings.cache_clear()
    try:
        dog = functions_framework.create_app(target="job_watchdog", source=str(ROOT / "main.py")).test_client()
        resp = dog.post("/", json={"budget_seconds": 30})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert json.loads(resp.get_data())["outcome"] == report().model_dump()
        assert dog.post("/", json={"budget_seconds": 0}).get_json()["outcome"] == "abandoned"
    finally:
        monkeypatch.undo()
        wiring.get_settings.cache_clear()


def test_a_cancelled_job_is_left_alone(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(120))
    first, *_lost = h.start(job_id)
    h.processor.handle(first)
    h.jobs.cancel(Principal(email="owner@example.com", role=Role.EDITOR, scope=h.scope), job_id)
    for _ in range(2):  # its batches' tasks never came: nothing to rescue all the same
        checked = h.check()
        assert (checked.jobs_rescued, checked.jobs_finished, checked.jobs_failed) == (0, 0, 0)
    job = h.job(job_id)
    assert (job.status, job.processed_items, job.failed_items, job.rescues) == (JobStatus.CANCELLED, 36, 4, 0)
    assert h.queue.take() == []


def test_a_rescue_is_logged_with_the_labels_of_the_job_it_rescued(h: Jobs, scope: Scope) -> None:
    from tests.integration.test_logs import Lines

    job_id = h.create(JobType.BULK_IMPORT, items(3))
    h.queue.take()  # the start task is lost
    root, lines = logging.getLogger(), Lines()
    root.addHandler(lines)
    try:
        assert h.check(JOB_STALL + SECOND) == report(jobs_rescued=1)
    finally:
        root.removeHandler(lines)
    [rescued] = [e for e in lines.entries() if "start task lost" in e["message"]]
    assert rescued["severity"] == "WARNING"
    labels = rescued["logging.googleapis.com/labels"]
    assert (labels["job_id"], labels["tenant_id"], labels["org_id"]) == (job_id, scope.tenant_id, scope.org_id)


def test_an_uploaded_job_whose_batches_keep_vanishing_is_failed_with_exact_counts(h: Jobs) -> None:
    """The watchdog finds an uploaded job's batches in its stored plan, not on the job."""
    uploads = wiring.uploads(h.scope)
    actor = Principal(email="owner@example.com", role=Role.ADMIN, scope=h.scope)
    upload = uploads.create(actor, "items.csv", UploadFormat.CSV)
    rows = "".join(f"Item {i},S{i}\r\n" for i in range(120))
    bucket = wiring.storage_client().bucket(wiring.get_settings().upload_bucket)
    bucket.blob(uploads.uploads.get(upload.id).object).upload_from_string(f"title,sku\r\n{rows}".encode())
    h.jobs.uploads, h.jobs.files = FirestoreUploadStore(wiring.firestore_client(), h.scope), wiring.upload_files()
    h.processor.files, h.processor.limits = wiring.upload_files(), LIMITS
    job_id = h.jobs.create_from_upload(actor, JobType.BULK_IMPORT, upload.id).id
    tasks = h.start(job_id)
    h.processor.handle(tasks[0])
    for _ in range(MAX_RESCUES):
        assert h.check() == report(jobs_rescued=1)
        assert {t.batch_index for t in h.queue.take()} == {1, 2}  # lost again
    assert h.check() == report(jobs_failed=1)
    job = h.job(job_id)
    assert (job.status, job.total_items, job.processed_items, job.failed_items, job.batches_done) == (
        JobStatus.FAILED,
        120,
        40,
        80,
        3,
    )
    not_applied = [e for e in h.store.job_errors(job_id, 1000, None).items if e.code == "NOT_APPLIED"]
    assert [e.index for e in not_applied] == list(range(40, 120))


def notices(h: Jobs) -> list[tuple[str, JobNoticeTask]]:
    return [(name, JobNoticeTask.model_validate(json.loads(t.http_request.body))) for name, t in h.export_tasks()]


def test_a_job_announcement_whose_task_vanished_is_requeued_then_failed(h: Jobs) -> None:
    """The harness announces nothing: as if every announcement's task were lost."""
    job_id = h.create(JobType.BULK_IMPORT, items(40))
    for task in h.start(job_id):
        h.processor.handle(task)
    job = h.job(job_id)
    assert job.status is JobStatus.COMPLETED and job.notification and job.notification.status == "PENDING"
    assert h.check(JOB_STALL - SECOND) == report()  # not silent for long enough yet
    for rescue in range(1, MAX_RESCUES + 1):
        assert h.check() == report(notifications_rescued=1)
        assert [(n, t.job_id, t.attempt) for n, t in notices(h)][-1] == (f"{job_id}-notify-1-r{rescue}", job_id, 1)
    assert h.check() == report(notifications_failed=1)
    note = h.job(job_id).notification
    assert note is not None and (note.status, note.last_error) == (
        "FAILED",
        f"no attempt for {JOB_STALL.total_seconds() / 60:g} minutes after {MAX_RESCUES} rescue(s): its tasks were lost",
    )
    assert h.check() == report()  # settled: never looked at again


def test_a_job_announcement_rescued_is_sent(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(40))
    for task in h.start(job_id):
        h.processor.handle(task)
    assert h.check() == report(notifications_rescued=1)
    [(_, task)] = notices(h)
    assert wiring.job_notifications(h.scope).notify(task.job_id, task.attempt) == "not configured"
    assert h.job(job_id).notification.status == "NOT_CONFIGURED"  # type: ignore[union-attr]
    assert h.check() == report()


def test_a_finish_that_keeps_losing_to_other_writes_leaves_the_job_to_a_retry_after_5_tries(
    h: Jobs, scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(40))
    [task] = h.start(job_id)
    with pytest.raises(SystemExit):  # committed, never finished
        h.with_store(DiesAfterCommit(wiring.firestore_client(), scope)).handle(task)
    tries: list[int] = []

    def always_moved(_client: Any, _writes: Any) -> Any:  # the job changed between read and write
        tries.append(1)
        raise ConflictError("the job moved")

    store = FirestoreJobStore(wiring.firestore_client(), scope)
    monkeypatch.setattr(wire, "commit", always_moved)
    with pytest.raises(ConflictError) as left:
        store.finish_job_if_done(job_id, datetime.now(UTC), once_evaluated=False)
    monkeypatch.undo()
    assert (left.value.message, len(tries)) == ("bulk job: kept changing while being finished", 5)
    assert h.job(job_id).status is JobStatus.PROCESSING
