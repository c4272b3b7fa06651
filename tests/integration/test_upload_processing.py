"""Jobs made from uploads hold every promise inline jobs do: the worker's tasks are captured in a
paused queue and delivered by the test itself, twice, or after a crash, and each item of the
file is applied exactly once, with exact counters and each failure naming its line."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore import jobs as firestore_jobs
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.firestore.uploads import FirestoreUploadStore
from shared.domain.catalog import Collection
from shared.domain.models import JobStatus, JobType, UploadFormat
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import ConflictError, InvalidArgumentError, NotFoundError
from shared.services.bulk_jobs import BulkJobs
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.tasks import WorkerTask, batch_task_name
from shared.services.uploads import UploadPolicy, Uploads
from tests.integration.conftest import CapturedQueue
from tests.integration.test_bulk_processing import LIMITS, DiesAfterCommit, DiesBeforeCommit, assert_exact
from tests.integration.test_bulk_processing import Harness as InlineHarness


class Harness(InlineHarness):
    """The inline jobs' harness, its services wired for uploads too."""

    def __init__(self, scope: Scope, queue: CapturedQueue[WorkerTask]) -> None:
        super().__init__(scope, queue)
        self.uploads: Uploads = wiring.uploads(scope)
        self.jobs = BulkJobs(
            self.store,
            wiring.payload_store(),
            queue,
            LIMITS,
            wiring.utc_now,
            uploads=FirestoreUploadStore(wiring.firestore_client(), scope),
            files=wiring.upload_files(),
        )
        self.actor = Principal(email="owner@example.com", role=Role.ADMIN, scope=scope)

    def with_store(self, store: FirestoreJobStore) -> BulkJobProcessor:
        return BulkJobProcessor(
            store,
            self.catalog,
            wiring.payload_store(),
            self.queue,
            wiring.quality(self.scope),
            wiring.utc_now,
            files=wiring.upload_files(),
            limits=LIMITS,
        )

    def upload(self, fmt: UploadFormat, data: bytes) -> str:
        upload = self.uploads.create(self.actor, "items", fmt)
        bucket = wiring.storage_client().bucket(wiring.get_settings().upload_bucket)
        bucket.blob(self.uploads.uploads.get(upload.id).object).upload_from_string(data)
        return upload.id

    def create_from(self, job_type: JobType, fmt: UploadFormat, data: bytes) -> str:
        return self.jobs.create_from_upload(self.actor, job_type, self.upload(fmt, data)).id


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue[WorkerTask]) -> Harness:
    return Harness(scope, queue)


def csv_file(count: int) -> bytes:
    """A header, then `count` rows; every tenth has no title. Row i starts on line i + 2."""
    rows = [f"{'' if i % 10 == 0 else f'Item {i}'},S{i}\r\n" for i in range(count)]
    return ("title,sku\r\n" + "".join(rows)).encode()


def test_every_batch_of_an_upload_delivered_twice_is_applied_once(harness: Harness) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(200))
    batches = harness.start(job_id)
    assert len(batches) == 5
    for task in batches:
        harness.processor.handle(task)
        assert harness.processor.handle(task) == "batch already committed"
    job = harness.job(job_id)
    assert_exact(job, 180, 20)
    assert [(e.index, e.line) for e in job.errors] == [(i, i + 2) for i in range(0, 200, 10)]
    assert harness.product_count() == 180


def test_a_redelivered_start_plans_the_file_again_to_the_same_batches(harness: Harness) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.JSONL, b'{"title": "a"}\n' * 90)
    [start] = harness.queue.take()
    assert harness.processor.handle(start) == "queued 3 batch(es)"
    harness.processor.handle(start)  # redelivered: the job is PROCESSING, its plan is kept
    named = harness.queue.take_named()
    assert {name for name, _ in named} == {batch_task_name(job_id, i) for i in range(3)}
    for _, task in named:
        harness.processor.handle(task)
    assert_exact(harness.job(job_id), 90, 0)
    assert harness.product_count() == 90


def test_an_uploaded_batch_that_died_after_committing_is_finished_by_its_redelivery(
    harness: Harness, scope: Scope
) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(120))
    tasks = harness.start(job_id)
    dying = harness.with_store(DiesAfterCommit(wiring.firestore_client(), scope))
    for task in tasks:
        with pytest.raises(SystemExit):
            dying.handle(task)
    assert harness.job(job_id).status is JobStatus.PROCESSING  # nobody lived to flip it
    assert [harness.processor.handle(task) for task in tasks] == ["batch already committed"] * len(tasks)
    assert_exact(harness.job(job_id), 108, 12)
    assert harness.product_count() == 108


def test_an_uploaded_batch_that_died_before_committing_left_nothing_written(harness: Harness, scope: Scope) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(80))
    tasks = harness.start(job_id)
    with pytest.raises(SystemExit):
        harness.with_store(DiesBeforeCommit(wiring.firestore_client(), scope)).handle(tasks[0])
    job = harness.job(job_id)
    assert (job.processed_items, job.failed_items, job.batches_done) == (0, 0, 0)
    assert harness.product_count() == 0
    for task in tasks:
        harness.processor.handle(task)
    assert_exact(harness.job(job_id), 72, 8)


def test_the_plan_is_kept_beside_the_job_in_chunks(
    harness: Harness, scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firestore_jobs, "PLAN_CHUNK", 2)
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(200))
    tasks = harness.start(job_id)
    job = harness.job(job_id)
    assert (job.batches, job.planned_batches, job.total_items) == ([], 5, 200)
    root = f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/bulk_jobs/{job_id}/plan"
    chunks = [s.to_dict()["batches"] for s in wiring.firestore_client().collection(root).stream()]
    assert [[b["index"] for b in c] for c in chunks] == [[0, 1], [2, 3], [4]]
    for task in reversed(tasks):
        harness.processor.handle(task)
    assert_exact(harness.job(job_id), 180, 20)


def test_a_file_replaced_after_its_job_was_made_fails_the_job_unwritten(harness: Harness) -> None:
    upload_id = harness.upload(UploadFormat.CSV, csv_file(10))
    job_id = harness.jobs.create_from_upload(harness.actor, JobType.BULK_IMPORT, upload_id).id
    bucket = wiring.storage_client().bucket(wiring.get_settings().upload_bucket)
    bucket.blob(harness.uploads.uploads.get(upload_id).object).upload_from_string(b"title\r\nSomething else\r\n")
    assert harness.start(job_id) == []
    job = harness.job(job_id)
    assert job.status is JobStatus.FAILED and "replaced" in (job.failure_reason or "")
    assert harness.product_count() == 0


def test_an_uploaded_update_and_delete_name_failures_by_line(harness: Harness) -> None:
    for task in harness.start(harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, b"title\nA\nB\n")):
        harness.processor.handle(task)
    ids = sorted(p.id for p in harness.catalog.list_products(10, None).items)
    update = f"id,title,attributes.colour\n{ids[0]},Renamed,red\n{ids[1]},,\nnot-an-id,X,\n".encode()
    job_id = harness.create_from(JobType.BULK_UPDATE, UploadFormat.CSV, update)
    for task in harness.start(job_id):
        harness.processor.handle(task)
    job = harness.job(job_id)
    assert (job.processed_items, job.failed_items) == (1, 2)
    assert [(e.line, e.code) for e in job.errors] == [(3, "INVALID_ITEM"), (4, "NOT_FOUND")]
    product: Any = harness.catalog.get_many(Collection.PRODUCTS, [ids[0]])[ids[0]][0]
    assert (product.title, product.attributes) == ("Renamed", {"colour": "red"})


def test_a_file_over_the_uploads_size_limit_makes_no_job(harness: Harness) -> None:
    harness.uploads = Uploads(
        harness.uploads.uploads,
        harness.uploads.files,
        UploadPolicy(max_bytes=10, url_ttl=timedelta(hours=1)),
        wiring.utc_now,
    )
    upload_id = harness.upload(UploadFormat.CSV, b"title\r\nA lamp of some length\r\n")
    with pytest.raises(InvalidArgumentError, match="at most 10"):
        harness.jobs.create_from_upload(harness.actor, JobType.BULK_IMPORT, upload_id)
    assert harness.queue.take() == []


def test_a_file_of_more_items_than_a_job_takes_fails_the_job_unwritten(harness: Harness) -> None:
    harness.processor.limits = dataclasses.replace(LIMITS, max_upload_items=5)
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.JSONL, b'{"title": "a"}\n' * 6)
    assert harness.start(job_id) == []
    job = harness.job(job_id)
    assert job.status is JobStatus.FAILED and "more than 5 items" in (job.failure_reason or "")
    assert harness.product_count() == 0


def test_a_job_claims_its_upload_in_the_write_that_creates_it_and_an_upload_is_used_once(
    harness: Harness, scope: Scope
) -> None:
    upload_id = harness.upload(UploadFormat.CSV, b"title\r\nLamp\r\n")
    first = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, b"title\r\nLamp\r\n")
    claimed = harness.uploads.uploads.get(upload_id)
    job_id = harness.jobs.create_from_upload(harness.actor, JobType.BULK_IMPORT, upload_id).id
    assert (claimed.job_id, harness.uploads.uploads.get(upload_id).job_id) == (None, job_id)
    with pytest.raises(ConflictError) as used:
        harness.jobs.create_from_upload(harness.actor, JobType.BULK_IMPORT, upload_id)
    assert used.value.message == f"the upload was used already, by bulk job {job_id}"
    # The service read the upload just before; the write that creates the job checks again, for
    # a job that claimed it meanwhile, or an upload gone.
    store = FirestoreJobStore(wiring.firestore_client(), scope)
    orphan = store.get_job(first).model_copy(update={"id": str(uuid.uuid4())})
    with pytest.raises(ConflictError) as raced:
        store.create_job(orphan, upload_id=upload_id)
    assert raced.value.message == f"the upload was used already, by bulk job {job_id}"
    with pytest.raises(NotFoundError) as missing:
        store.create_job(orphan, upload_id=str(uuid.uuid4()))
    assert missing.value.message == "upload not found"
    with pytest.raises(NotFoundError):
        store.get_job(orphan.id)


def test_an_uploaded_job_cancelled_midway_skips_every_batch_it_had_not_committed(harness: Harness) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(200))
    first, *rest = harness.start(job_id)  # 5 batches of 40, their ranges in the job's plan
    harness.processor.handle(first)
    view = harness.jobs.cancel(harness.actor, job_id)
    assert (view.status, view.processed_items, view.failed_items) == (JobStatus.CANCELLED, 36, 4)
    # the committed batch and a skip marker for each of the other four, read from the plan
    assert harness.job(job_id).batches_done == 5
    for task in rest:
        assert harness.processor.handle(task) == "job already CANCELLED"
    assert harness.product_count() == 36


def test_a_batch_the_plan_does_not_hold_is_not_found(harness: Harness, scope: Scope) -> None:
    job_id = harness.create_from(JobType.BULK_IMPORT, UploadFormat.CSV, csv_file(40))
    harness.start(job_id)
    store = FirestoreJobStore(wiring.firestore_client(), scope)
    job = store.get_job(job_id)
    assert store.batch_range(job, 0).item_count == 40
    with pytest.raises(NotFoundError) as missing:
        store.batch_range(job, firestore_jobs.PLAN_CHUNK)  # past the plan's only document
    assert missing.value.message == f"bulk job plan: batch {firestore_jobs.PLAN_CHUNK} not found"
