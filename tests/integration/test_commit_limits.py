"""A batch whose writes would not fit one Firestore commit (500 writes, a 10 MiB request) is
committed in parts, each atomic, each behind its own marker: every item is still applied or
reported exactly once, through redelivery and a crash between parts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore import wire
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.domain.bulk import BatchPlan
from shared.domain.models import BatchRange, JobStatus, JobType
from shared.domain.sizes import EMULATOR_MAX_MESSAGE_BYTES, MAX_COMMIT_BYTES, MAX_COMMIT_WRITES
from shared.domain.tenancy import Scope
from shared.errors import UnavailableError
from shared.services.batch_commit import not_applied_after_parts
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from tests.integration.conftest import CapturedQueue
from tests.integration.test_bulk_processing import Harness
from tests.support import deliver


class Commits:
    """Every commit request the stores send: its writes and its size in bytes."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def __call__(self, client: Any, pbs: list[Any]) -> Any:
        self.sent.append((len(pbs), sum(pb.ByteSize() for pb in pbs)))
        return ORIGINAL_COMMIT(client, pbs)


ORIGINAL_COMMIT = wire.commit


@pytest.fixture()
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Commits]:
    recorder = Commits()
    monkeypatch.setattr(wire, "commit", recorder)
    yield recorder


def large_product(i: int) -> dict[str, Any]:
    """About 290 KB stored: 200 attributes of 1,400 bytes (the most a product may have)."""
    return {"title": f"Large {i}", "sku": f"L{i}", "attributes": {f"a{n:03d}": "x" * 1400 for n in range(200)}}


def harness_with(scope: Scope, queue: CapturedQueue, batch_max_items: int) -> Harness:
    built = Harness(scope, queue)
    limits = BulkLimits(
        max_job_items=100_000,
        batch_max_items=batch_max_items,
        batch_max_bytes=4_000_000,
        inline_payload_max_bytes=256 * 1024,
    )
    built.jobs = BulkJobs(built.store, wiring.payload_store(), queue, limits, wiring.utc_now)
    return built


def run(h: Harness, job_id: str) -> None:
    for task in h.start(job_id):
        deliver(h.processor.handle, task)


class DiesAfterFirstPart(FirestoreJobStore):
    """The process dies right after the first part of a batch lands."""

    def commit_part(self, job_id: str, batch: BatchRange, plan: BatchPlan, end_item: int, now: Any) -> Any:
        super().commit_part(job_id, batch, plan, end_item, now)
        raise SystemExit(f"worker died after committing items up to {end_item}")


def test_a_delete_batch_over_10_mib_is_committed_in_parts_each_item_once(
    scope: Scope, queue: CapturedQueue, commits: Commits
) -> None:
    h = harness_with(scope, queue, batch_max_items=249)
    run(h, h.create(JobType.BULK_IMPORT, [large_product(i) for i in range(40)]))
    ids = sorted(p.id for p in h.products())
    assert len(ids) == 40
    unknown = [str(uuid.uuid4()) for _ in range(3)]
    payload = ids[:20] + unknown + ids[20:]  # one batch of 43 items: 40 events of ~290 KB each
    job_id = h.create(JobType.BULK_DELETE, payload)
    [task] = h.start(job_id)
    commits.sent.clear()
    dying = h.with_store(DiesAfterFirstPart(wiring.firestore_client(), scope))
    with pytest.raises(SystemExit):
        dying.handle(task)
    applied = 40 - len(h.products())
    assert 0 < applied < 40  # the first part is in, and counted with it (the batch is not done yet)
    assert (h.job(job_id).processed_items, h.job(job_id).batches_done) == (applied, 0)
    deliver(h.processor.handle, task)  # redelivered: goes on after the part committed
    assert h.processor.handle(task) == "batch already committed"

    job = h.job(job_id)
    assert (job.status, job.processed_items, job.failed_items, job.batches_done) == (JobStatus.COMPLETED, 40, 3, 1)
    assert sorted((e.index, e.id, e.code) for e in job.errors) == [
        (20 + n, pid, "NOT_FOUND") for n, pid in enumerate(unknown)
    ]
    assert h.products() == []
    deleted = sorted(e["resource_id"] for e in h.events(job_id))
    assert deleted == ids  # one audit event per product, never two
    batch_commits = [c for c in commits.sent if c[1] > 1_000_000]
    assert len(batch_commits) >= 4  # the part before the crash, and at least three after it
    assert sum(size for _, size in batch_commits) > MAX_COMMIT_BYTES  # the whole would not fit one
    # Each within Firestore's limits, and the emulator's own 4 MiB message limit.
    assert all(writes <= MAX_COMMIT_WRITES and size <= EMULATOR_MAX_MESSAGE_BYTES for writes, size in commits.sent)


def test_an_import_batch_over_500_writes_is_committed_in_parts_each_item_once(
    scope: Scope, queue: CapturedQueue, commits: Commits
) -> None:
    h = harness_with(scope, queue, batch_max_items=249)
    # A bare title makes five issue records (no description, SKU, category, brand; a low score):
    # eight writes an item, more than 500 for the batch of 124 an import holds.
    payload = [{"title": f"Bare {i}"} for i in range(124)] + [{"sku": "no title"}]
    job_id = h.create(JobType.BULK_IMPORT, payload)
    tasks = h.start(job_id)
    assert len(tasks) == 2
    commits.sent.clear()
    for task in tasks:
        deliver(h.processor.handle, task)
    job = h.job(job_id)
    assert (job.status, job.processed_items, job.failed_items) == (JobStatus.COMPLETED, 124, 1)
    assert [(e.index, e.code) for e in job.errors] == [(124, "INVALID_ITEM")]
    assert len(h.products()) == 124
    assert len(h.events(job_id)) == 124
    assert len([c for c in commits.sent if c[0] > 100]) >= 2
    assert all(writes <= MAX_COMMIT_WRITES for writes, _ in commits.sent)
    issues = wiring.quality(scope).list(code="MISSING_DESCRIPTION", limit=100)
    assert len(issues.items) == 100 and issues.next_cursor  # every product judged, in whichever part


class CannotCommitParts(FirestoreJobStore):
    """Storage that keeps failing every part of a batch but its last (a given-up batch's)."""

    def commit_part(self, job_id: str, batch: BatchRange, plan: BatchPlan, end_item: int, now: Any) -> Any:
        raise UnavailableError("bulk job batch: storage temporarily unavailable")


def test_a_batch_given_up_after_a_part_committed_reports_only_the_items_left(
    scope: Scope, queue: CapturedQueue
) -> None:
    h = harness_with(scope, queue, batch_max_items=249)
    run(h, h.create(JobType.BULK_IMPORT, [large_product(i) for i in range(40)]))
    ids = sorted(p.id for p in h.products())
    job_id = h.create(JobType.BULK_DELETE, ids)
    [task] = h.start(job_id)
    with pytest.raises(SystemExit):
        h.with_store(DiesAfterFirstPart(wiring.firestore_client(), scope)).handle(task)
    [first] = h.store.batch_parts(job_id, 0)
    failing = h.with_store(CannotCommitParts(wiring.firestore_client(), scope))
    failing.max_attempts = 3
    with pytest.raises(UnavailableError):
        failing.handle(task, attempt=2)
    assert failing.handle(task, attempt=3) == "batch not applied (attempts exhausted)"
    job = h.job(job_id)
    expected = (JobStatus.COMPLETED, first.processed, 40 - first.end_item, 1)
    assert (job.status, job.processed_items, job.failed_items, job.batches_done) == expected
    assert [e.index for e in h.store.job_errors(job_id, 100, None).items] == list(range(first.end_item, 40))
    assert {e.code for e in job.errors} == {"NOT_APPLIED"}
    assert sorted(p.id for p in h.products()) == ids[first.end_item :]  # the first part's deletes stand
    assert len(h.events(job_id)) == first.processed


def test_a_later_batch_given_up_after_a_part_names_each_item_left_by_its_product(
    scope: Scope, queue: CapturedQueue
) -> None:
    h = Harness(scope, queue)
    ids = [str(uuid.uuid4()) for _ in range(20)]
    job = h.job(h.create(JobType.BULK_UPDATE, [{"id": pid, "title": "never applied"} for pid in ids]))
    batch = BatchRange(index=1, first_item=10, item_count=10, start=0, end=0)  # items 10-19
    h.store.commit_part(job.id, batch, BatchPlan([], [], [], 0), 13, wiring.utc_now())  # items 10-12
    items = [{"id": pid, "title": "never applied"} for pid in ids[10:]]
    plan = not_applied_after_parts(h.store, job, batch, items, "the batch failed 3 time(s)")
    assert [(e.index, e.id, e.code) for e in plan.errors] == [(i, ids[i], "NOT_APPLIED") for i in range(13, 20)]
