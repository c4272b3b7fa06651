"""At most K batches of a job in flight, paced to the tenant's ramp, against the emulators: a job
starts K batches and each batch queues the one K places after it, on every delivery; a lost
follow-on task is the watchdog's to re-queue, within K of the highest committed batch; and a
small job of one tenant completes while another tenant's large job is still running."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import tasks_v2

from local.stack import LOCATION
from shared import wiring
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.domain.bulk import BatchPlan, Pacing
from shared.domain.models import BatchRange, JobType
from shared.domain.tenancy import Scope
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.tasks import ExportTask, WorkerTask
from tests.conftest import PROJECT
from tests.integration.conftest import CapturedQueue, JobsApi
from tests.integration.test_bounded_retries import MAX, CommitsFail, deliver_until_last
from tests.integration.test_bulk_processing import Harness, assert_exact, items
from tests.integration.test_watchdog import JOB_STALL, Clock, Jobs, NamedQueue, report
from tests.support import concurrently, headers, new_scope, wait_until


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue[WorkerTask]) -> Harness:
    return Harness(scope, queue)


@pytest.fixture()
def h(scope: Scope, stack_env: dict[str, str]) -> Iterator[Jobs]:
    """The harness on a clock the test moves, with a watchdog beside it."""
    job_queue, export_queue = NamedQueue(WorkerTask), NamedQueue(ExportTask)
    yield Jobs(scope, job_queue, Clock(), export_queue)
    job_queue.delete()
    export_queue.delete()


def bounded(harness: Harness, k: int, store: FirestoreJobStore | None = None) -> BulkJobProcessor:
    processor = harness.with_store(store or harness.store)
    processor.max_in_flight = k
    return processor


def run_in_waves(harness: Harness, processor: BulkJobProcessor, job_id: str, k: int) -> list[int]:
    """Deliver every queued batch twice (the second finds its marker and queues its follower
    again), wave after wave; returns the batch indexes in the order they were first queued and
    checks that no more than K distinct batches were ever waiting at once."""
    [start] = harness.queue.take()
    processor.handle(start)
    order: list[int] = []
    waiting = {t.batch_index: t for t in harness.queue.take()}
    while waiting:
        assert len(waiting) <= k, sorted(waiting)
        order += sorted(i for i in waiting if i not in order)
        index = min(waiting)
        task = waiting.pop(index)
        assert processor.handle(task) == "batch committed"
        assert processor.handle(task) == "batch already committed"
        for queued in harness.queue.take():  # the follower, queued by both deliveries (one name)
            if queued.batch_index not in order:
                waiting[queued.batch_index] = queued
    return order


@pytest.mark.parametrize("k", [1, 3])
def test_a_job_with_k_batches_in_flight_completes_exactly_when_every_batch_is_redelivered(
    harness: Harness, k: int
) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(280))  # 7 batches of 40
    processor = bounded(harness, k)
    assert run_in_waves(harness, processor, job_id, k) == list(range(7))
    assert_exact(harness.job(job_id), 252, 28)
    # A late redelivery after the job ended queues no follower (it would walk the batches again).
    queued = len(list(wiring.tasks_client().list_tasks(parent=harness.queue.path)))
    assert processor.handle(WorkerTask.batch(harness.scope, job_id, 0)) == "batch already committed"
    assert len(list(wiring.tasks_client().list_tasks(parent=harness.queue.path))) == queued
    assert harness.product_count() == 252 and len(harness.events(job_id)) == 252


def test_the_start_queues_only_the_first_k_batches(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(200))
    [start] = harness.queue.take()
    assert bounded(harness, 2).handle(start) == "queued 2 of 5 batch(es)"
    assert [(t.job_id, t.batch_index) for t in harness.queue.take()] == [(job_id, 0), (job_id, 1)]


def test_concurrent_deliveries_of_a_batch_queue_one_follower_name(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(160))
    processor = bounded(harness, 2)
    [start] = harness.queue.take()
    processor.handle(start)
    first, _ = harness.queue.take()
    barrier = threading.Barrier(3)

    def at_once() -> str:
        barrier.wait(timeout=30)
        return processor.handle(first)

    outcomes = concurrently(at_once, at_once, at_once)
    assert sorted(o[:15] for o in outcomes if isinstance(o, str)) == [
        "batch already c",
        "batch already c",
        "batch committed",
    ], outcomes
    # Each delivery queued the follower; the names are one (the emulator keeps duplicates).
    assert {name for name, _ in harness.queue.take_named()} == {f"{job_id}-batch-00002"}


def test_a_batch_that_died_after_committing_queues_its_follower_on_redelivery(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(80))

    class DiesAfterCommit(FirestoreJobStore):
        def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
            super().commit_batch(job_id, batch, plan, now)
            raise SystemExit("worker died after commit")

    [start] = harness.queue.take()
    bounded(harness, 1).handle(start)
    [first] = harness.queue.take()
    with pytest.raises(SystemExit):
        bounded(harness, 1, DiesAfterCommit(wiring.firestore_client(), scope)).handle(first)
    assert harness.queue.take() == []  # died before queueing the next batch
    assert bounded(harness, 1).handle(first) == "batch already committed"
    [second] = harness.queue.take()
    assert second.batch_index == 1
    bounded(harness, 1).handle(second)
    assert_exact(harness.job(job_id), 72, 8)


def test_a_batch_given_up_on_its_last_attempt_queues_its_follower(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(160))
    processor = bounded(harness, 2, CommitsFail(wiring.firestore_client(), scope, failing={0}))
    processor.max_attempts = MAX
    [start] = harness.queue.take()
    processor.handle(start)
    first, second = harness.queue.take()
    assert deliver_until_last(processor, first) == "batch not applied (attempts exhausted)"
    [third] = harness.queue.take()
    assert third.batch_index == 2  # the job goes on
    processor.handle(second)
    [fourth] = harness.queue.take()
    assert fourth.batch_index == 3
    processor.handle(third)
    processor.handle(fourth)
    job = harness.job(job_id)
    assert (job.status.value, job.processed_items, job.failed_items, job.batches_done) == ("COMPLETED", 108, 52, 4)


# --- the watchdog: a lost follow-on task ---------------------------------------------------------
def test_a_lost_follow_on_task_is_requeued_within_k_of_the_highest_committed_batch(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(400))  # 10 batches
    processor = bounded(h, 2)
    [start] = h.queue.take()
    processor.handle(start)
    for task in h.queue.take():  # batches 0 and 1 commit ...
        processor.handle(task)
    lost = h.queue.take()  # ... and their followers (2 and 3) are lost: the job falls silent
    assert sorted(t.batch_index for t in lost) == [2, 3]
    dog = h.watchdog()
    dog.policy = dataclasses.replace(dog.policy, max_in_flight=2)
    h.clock.advance(JOB_STALL + timedelta(seconds=1))
    assert dog.run(60) == report(jobs_rescued=1)
    rescued = h.queue.take()
    assert sorted(t.batch_index for t in rescued) == [2, 3]  # not 4..9: those follow as before
    waiting = list(rescued)
    while waiting:  # each rescued batch queues its follower under its usual name, and so on
        processor.handle(waiting.pop(0))
        waiting += h.queue.take()
    assert_exact(h.job(job_id), 360, 40)
    assert h.product_count() == 360


def test_a_job_committing_is_not_silent_though_its_document_is_not_written(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(200))
    processor = bounded(h, 2)
    [start] = h.queue.take()
    processor.handle(start)
    waiting = h.queue.take()
    while waiting:  # each batch takes nearly the whole allowance; the job document stays still
        h.clock.advance(JOB_STALL - timedelta(seconds=1))
        assert h.watchdog().run(60).jobs_rescued == 0
        processor.handle(waiting.pop(0))
        waiting += h.queue.take()
    assert_exact(h.job(job_id), 180, 20)
    assert h.job(job_id).rescues == 0 and h.store.get_job(job_id).updated_at == h.job(job_id).completed_at


# --- pacing to the tenant's ramp -----------------------------------------------------------------
def test_the_follow_on_task_is_scheduled_by_the_tenant_ramp(h: Jobs) -> None:
    job_id = h.create(JobType.BULK_IMPORT, items(160))
    processor = bounded(h, 2)
    processor.pacing = Pacing(start_rate=20, max_rate=1000)
    [start] = h.queue.take()
    processor.handle(start)
    first_write = h.store.first_write_at(h.clock())  # created by the start
    h.clock.advance(timedelta(seconds=1))
    first, _ = h.queue.take()
    began = h.clock()
    processor.handle(first)
    [follower] = [t for t in wiring.tasks_client().list_tasks(parent=h.queue.path) if t.name.endswith("-00002")]
    # 2 batches in flight of 40 items at 20 products/s: a batch every 4 s per slot.
    assert follower.schedule_time == began + timedelta(seconds=2 * 40 / 20)
    assert first_write < began and job_id


def test_the_tenant_first_write_time_is_created_once(harness: Harness, scope: Scope) -> None:
    stores = [FirestoreJobStore(wiring.firestore_client(), scope) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    base = datetime.now(UTC)

    def first_write(i: int) -> datetime:
        barrier.wait(timeout=30)
        return stores[i].first_write_at(base + timedelta(seconds=i))

    found = concurrently(*[lambda i=i: first_write(i) for i in range(len(stores))])
    assert all(isinstance(f, datetime) for f in found), found
    assert len(set(found)) == 1  # one of the four times, the same for every caller
    assert stores[0].first_write_at(base + timedelta(hours=1)) == found[0]
    # kept where the README says, for whoever needs to read or reset a tenant's ramp
    kept = wiring.firestore_client().document(f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/system/ingest").get()
    assert kept.get("first_write_at") == found[0]


# --- fairness between tenants, through the API and the concurrent emulator -----------------------
@pytest.fixture()
def narrow_queue(monkeypatch: pytest.MonkeyPatch, worker_app: Any) -> Iterator[str]:
    """The bulk-jobs queue swapped for one that dispatches 3 tasks at once, as a busy production
    queue leaves a few slots: what K leaves free for other tenants is then visible."""
    client = wiring.tasks_client()
    name = f"narrow-{uuid.uuid4().hex[:10]}"
    path = client.queue_path(PROJECT, LOCATION, name)
    queue = tasks_v2.Queue(name=path, rate_limits=tasks_v2.RateLimits(max_concurrent_dispatches=3))
    client.create_queue(parent=client.common_location_path(PROJECT, LOCATION), queue=queue)
    monkeypatch.setenv("TASKS_QUEUE", name)
    wiring.reset()
    yield name
    monkeypatch.undo()
    wiring.reset()


def test_a_small_job_of_one_tenant_completes_while_a_large_job_of_another_runs(
    narrow_queue: str, client: Any, keys: Any
) -> None:
    a = JobsApi(client, headers(keys[0], new_scope()))
    b = JobsApi(client, headers(keys[0], new_scope()))
    large = a.create("BULK_IMPORT", [{"title": f"A{i}", "sku": f"A-{i}"} for i in range(3000)])  # 13 batches
    wait_until(lambda: a.get(large["id"])["status"] == "PROCESSING")
    small = b.create("BULK_IMPORT", [{"title": f"B{i}", "sku": f"B-{i}"} for i in range(10)])
    done = b.wait(small["id"], timeout=120)
    assert (done["status"], done["processed_items"]) == ("COMPLETED", 10)
    meanwhile = a.get(large["id"])
    assert meanwhile["status"] == "PROCESSING", {k: meanwhile[k] for k in ("status", "processed_items")}
    assert meanwhile["processed_items"] < 3000
    finished = a.wait(large["id"], timeout=300)  # and A's job completes too, exactly
    assert (finished["status"], finished["processed_items"], finished["failed_items"]) == ("COMPLETED", 3000, 0)
