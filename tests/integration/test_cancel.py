"""Cancelling a bulk job at each stage, with the worker's tasks captured in a paused queue and
delivered by the test: before it starts, between batches, with a batch planned but not yet
committed, with a batch committing in the middle of the cancel, and with batches redelivered after
it. Whatever the order, the job ends CANCELLED and its counters say exactly what was applied."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore import wire
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.domain.bulk import BatchPlan
from shared.domain.models import BatchRange, BulkJob, BulkJobView, JobStatus, JobType
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import ConflictError
from tests.integration.conftest import B, CapturedQueue, JobsApi
from tests.integration.test_bulk_processing import Harness, items
from tests.support import concurrently, wait_until

OWNER = "owner@example.com"


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue) -> Harness:
    return Harness(scope, queue)


def cancel(harness: Harness, job_id: str, store: FirestoreJobStore | None = None) -> BulkJobView:
    if store is not None:
        harness.jobs.jobs = store
    actor = Principal(email=OWNER, role=Role.EDITOR, scope=harness.scope)
    return harness.jobs.cancel(actor, job_id)


def product_events(harness: Harness, job_id: str) -> list[dict[str, Any]]:
    return [e for e in harness.events(job_id) if e["resource_type"] == "product"]


def assert_cancelled(harness: Harness, job_id: str, processed: int, failed: int) -> BulkJob:
    """CANCELLED, with counters that match what is in the catalog and the audit log."""
    job = harness.job(job_id)
    assert (job.status, job.processed_items, job.failed_items) == (JobStatus.CANCELLED, processed, failed)
    assert harness.product_count() == processed and len(product_events(harness, job_id)) == processed
    [event] = [e for e in harness.events(job_id) if e["resource_type"] == "bulk_job"]
    assert (event["action"], event["resource_id"], event["actor_email"]) == ("bulk_job.cancelled", job_id, OWNER)
    assert job.completed_at is not None
    return job


def test_a_pending_job_cancelled_never_runs(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    view = cancel(harness, job_id)
    assert (view.status, view.processed_items, view.failed_items) == (JobStatus.CANCELLED, 0, 0)
    [start] = harness.queue.take()
    assert harness.processor.handle(start) == "job already CANCELLED"
    assert harness.queue.take() == []  # no batch was queued
    assert_cancelled(harness, job_id, 0, 0)


def test_batches_after_the_cancel_are_skipped_and_committed_ones_stay(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))  # 3 batches of 40, 4 untitled each
    first, *rest = harness.start(job_id)
    harness.processor.handle(first)
    view = cancel(harness, job_id)
    assert (view.status, view.total_items, view.processed_items, view.failed_items) == (
        JobStatus.CANCELLED,
        120,
        36,
        4,
    )
    assert [e.index for e in view.errors] == [0, 10, 20, 30]
    for task in [*rest, *rest]:  # delivered, and redelivered
        assert harness.processor.handle(task) == "job already CANCELLED"
    assert_cancelled(harness, job_id, 36, 4)


def test_a_finished_job_cannot_be_cancelled(harness: Harness) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(40))
    for task in harness.start(job_id):
        harness.processor.handle(task)
    assert harness.job(job_id).status is JobStatus.COMPLETED
    with pytest.raises(ConflictError, match="already COMPLETED"):
        cancel(harness, job_id)
    with pytest.raises(ConflictError, match="already COMPLETED"):
        cancel(harness, job_id)
    job = harness.job(job_id)
    assert (job.status, job.processed_items) == (JobStatus.COMPLETED, 36)
    assert [e for e in harness.events(job_id) if e["resource_type"] == "bulk_job"] == []


class HeldAtCommit(FirestoreJobStore):
    """A delivery that has read the job and planned its batch, held just before its commit."""

    def __init__(self, client: Any, scope: Scope) -> None:
        super().__init__(client, scope)
        self.reached, self.release = threading.Event(), threading.Event()

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
        self.reached.set()
        assert self.release.wait(timeout=30)
        return super().commit_batch(job_id, batch, plan, now)


def test_a_batch_planned_before_the_cancel_and_committing_after_it_is_rejected(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    first, second, third = harness.start(job_id)
    harness.processor.handle(first)
    held = HeldAtCommit(wiring.firestore_client(), scope)

    def cancel_while_held() -> BulkJobView:
        assert held.reached.wait(timeout=30)
        try:
            return cancel(harness, job_id)
        finally:
            held.release.set()

    outcome, view = concurrently(lambda: harness.with_store(held).handle(second), cancel_while_held)
    assert outcome == "batch already committed (concurrent delivery)"  # its marker was the cancel's
    assert isinstance(view, BulkJobView) and (view.processed_items, view.failed_items) == (36, 4)
    assert harness.processor.handle(third) == "job already CANCELLED"
    assert_cancelled(harness, job_id, 36, 4)


class CommitsMidCancel(FirestoreJobStore):
    """A cancel that, between flipping the job and skipping its batches, lets a held batch commit."""

    def __init__(self, client: Any, scope: Scope, held: HeldAtCommit) -> None:
        super().__init__(client, scope)
        self.held = held
        self.committed = threading.Event()

    def _skip_batches(self, job_id: str, batches: list[BatchRange], now: datetime) -> None:
        self.held.release.set()
        assert self.committed.wait(timeout=30)
        super()._skip_batches(job_id, batches, now)


def test_a_batch_committing_while_the_cancel_runs_is_counted(harness: Harness, scope: Scope) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    first, second, third = harness.start(job_id)
    harness.processor.handle(first)
    held = HeldAtCommit(wiring.firestore_client(), scope)
    cancelling = CommitsMidCancel(wiring.firestore_client(), scope, held)

    def deliver() -> str:
        try:
            return harness.with_store(held).handle(second)
        finally:
            cancelling.committed.set()

    def cancel_once_held() -> BulkJobView:
        assert held.reached.wait(timeout=30)
        return cancel(harness, job_id, cancelling)

    outcome, view = concurrently(deliver, cancel_once_held)
    assert outcome == "batch committed"
    assert isinstance(view, BulkJobView) and (view.processed_items, view.failed_items) == (72, 8)
    assert harness.processor.handle(third) == "job already CANCELLED"
    assert_cancelled(harness, job_id, 72, 8)


class MeetsTheCancel(FirestoreJobStore):
    """A batch's commit and the cancel's skip markers, met at a barrier so they really overlap."""

    def __init__(self, client: Any, scope: Scope, barrier: threading.Barrier) -> None:
        super().__init__(client, scope)
        self.barrier = barrier
        self.planned = threading.Event()  # the batch read the job before the cancel flipped it

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> Any:
        self.planned.set()
        self.barrier.wait(timeout=30)
        return super().commit_batch(job_id, batch, plan, now)

    def _skip_batches(self, job_id: str, batches: list[BatchRange], now: datetime) -> None:
        self.barrier.wait(timeout=30)
        super()._skip_batches(job_id, batches, now)


@pytest.mark.parametrize("run", range(3))
def test_a_batch_racing_the_cancel_is_either_counted_whole_or_not_at_all(
    harness: Harness, scope: Scope, run: int
) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    first, second, third = harness.start(job_id)
    harness.processor.handle(first)
    racing = MeetsTheCancel(wiring.firestore_client(), scope, threading.Barrier(2))

    def cancel_once_planned() -> BulkJobView:
        assert racing.planned.wait(timeout=30)
        return cancel(harness, job_id, racing)

    outcome, view = concurrently(lambda: harness.with_store(racing).handle(second), cancel_once_planned)
    assert isinstance(view, BulkJobView), view
    won = outcome == "batch committed"
    assert outcome in ("batch committed", "batch already committed (concurrent delivery)")
    for task in (second, third):  # redelivered after the cancel: nothing changes
        assert harness.processor.handle(task) == "job already CANCELLED"
    expected = (72, 8) if won else (36, 4)
    assert (view.processed_items, view.failed_items) == expected
    assert_cancelled(harness, job_id, *expected)


# --- through the API, with the worker running for real --------------------------------------------
def test_cancel_through_the_api(jobs: JobsApi, client: Any, auth: dict[str, str]) -> None:
    job = jobs.run("BULK_IMPORT", [{"title": "Done already"}])
    resp = client.post(f"{B}/bulk-jobs/{job['id']}/cancel", headers=auth)
    assert resp.status_code == 409 and resp.get_json()["code"] == "CONFLICT", resp.get_json()
    assert "already COMPLETED" in resp.get_json()["error"]

    created = jobs.create("BULK_IMPORT", [{"title": f"P{i}"} for i in range(2000)])
    resp = client.post(f"{B}/bulk-jobs/{created['id']}/cancel", headers=auth)
    if resp.status_code == 409:  # the worker was quicker than this test: nothing left to cancel
        assert jobs.wait(created["id"])["status"] == "COMPLETED"
        return
    assert resp.status_code == 200, resp.get_json()
    cancelled = resp.get_json()
    assert cancelled["status"] == "CANCELLED" and cancelled["payload"]
    # The batches still queued find it cancelled and do nothing. Every applied item is counted: a
    # batch between its parts (these products' issues make batches too large for one commit) may
    # land one more part just after the answer, counted as it lands, then all settles.
    wait_until(lambda: jobs.get(created["id"])["notification"]["status"] != "PENDING")  # the worker's last word
    wait_until(lambda: jobs.get(created["id"])["processed_items"] == len(jobs.products()) - 1)
    settled = jobs.get(created["id"])
    assert (settled["status"], settled["total_items"], settled["completed_at"]) == (
        "CANCELLED",
        cancelled["total_items"],
        cancelled["completed_at"],
    )
    assert settled["processed_items"] >= cancelled["processed_items"]
    audit = client.get(f"{B}/audit-logs", query_string={"resource_type": "bulk_job"}, headers=auth).get_json()
    assert [(e["action"], e["resource_id"]) for e in audit["items"]] == [("bulk_job.cancelled", created["id"])]


def test_a_cancel_that_keeps_losing_to_commits_gives_up_after_20_tries_and_changes_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = harness.create(JobType.BULK_IMPORT, items(120))
    harness.start(job_id)
    tries: list[int] = []

    def always_moved(_client: Any, _writes: Any) -> Any:  # a batch committed between read and write
        tries.append(1)
        raise ConflictError("the job moved")

    monkeypatch.setattr(wire, "commit", always_moved)
    with pytest.raises(ConflictError) as refused:
        cancel(harness, job_id)
    monkeypatch.undo()
    assert (refused.value.message, len(tries)) == ("bulk job: kept changing while being cancelled; try again", 20)
    assert harness.job(job_id).status is JobStatus.PROCESSING
    assert [e for e in harness.events(job_id) if e["resource_type"] == "bulk_job"] == []
