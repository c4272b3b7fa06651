"""Bulk-job use cases the API calls: create a job (split once, store, queue) and read jobs back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.audit import AuditEvent, ChangeContext, ResourceType, Verb
from shared.domain.bulk import items_per_batch, parse_payload, split_payload
from shared.domain.models import BulkJob, BulkJobView, ItemError, JobStatus, JobType, Page, UploadFormat, UploadSource
from shared.domain.tenancy import Principal, RunningLimit
from shared.domain.uploads import GENERIC_ERROR_COLUMNS, csv_row, error_header, error_rows, generic_error_row
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, UnavailableError
from shared.services.job_notifications import announce
from shared.services.ports import JobStore, PayloadStore, TaskQueue, UploadFiles, UploadStore
from shared.services.tasks import WorkerTask, start_task_name

MAX_PAGE = 100


@dataclass(frozen=True)
class BulkLimits:
    max_job_items: int
    batch_max_items: int
    batch_max_bytes: int
    inline_payload_max_bytes: int
    max_upload_items: int = 1_000_000
    running: RunningLimit | None = None  # the tenant's PENDING + PROCESSING jobs at most (dry runs too); None: any


@dataclass
class BulkJobs:
    jobs: JobStore
    payloads: PayloadStore
    tasks: TaskQueue
    limits: BulkLimits
    clock: Callable[[], datetime]
    notices: TaskQueue | None = None  # where a job's end is announced (the notifications queue); None: nowhere
    uploads: UploadStore | None = None
    files: UploadFiles | None = None

    def create_from_upload(
        self, actor: Principal, job_type: JobType, upload_id: str, dry_run: bool = False
    ) -> BulkJobView:
        """A job whose items are the uploaded file's: PENDING at once; the worker plans the file
        (reads it once, streamed) when the job starts."""
        if self.uploads is None or self.files is None:
            raise RuntimeError("uploads are not wired")
        upload = self.uploads.get(upload_id)  # 404 for another tenant's
        if upload.job_id:
            raise ConflictError(f"the upload was used already, by bulk job {upload.job_id}")
        stored = self.files.stat(upload.object)
        if stored is None:
            raise ConflictError("the upload has not arrived yet: send the file to its upload_url first")
        if stored.size > upload.max_bytes:
            raise InvalidArgumentError(
                f"the uploaded file has {stored.size} bytes; at most {upload.max_bytes}",
                [FieldProblem("upload_id", "file too large")],
            )
        scope = actor.scope
        now = self.clock()
        job = BulkJob(
            id=str(uuid.uuid4()),
            tenant_id=scope.tenant_id,
            org_id=scope.org_id,
            job_type=job_type,
            status=JobStatus.PENDING,
            payload=None,
            payload_bytes=0,
            source=UploadSource(upload_id=upload.id, format=upload.format, filename=upload.filename, bytes=stored.size),
            created_by=actor.email,
            created_at=now,
            updated_at=now,
            item_count=0,
            batches=[],
            items_object=upload.object,
            items_generation=stored.generation,
            dry_run=dry_run,
        )
        self.jobs.create_job(job, upload_id=upload.id, limit=self.limits.running)
        self._queue_start(job)
        return job.view()

    def _queue_start(self, job: BulkJob) -> None:
        try:
            self.tasks.enqueue(start_task_name(job.id), WorkerTask.start(job.scope, job.id).to_body())
        except UnavailableError:
            # The job exists but nothing will run it: say so on the job rather than leave it PENDING.
            self.jobs.fail_job(job.id, "the job could not be queued; submit it again", self.clock())
            raise

    def create(self, actor: Principal, job_type: JobType, payload: Any, dry_run: bool = False) -> BulkJobView:
        items = parse_payload(job_type, payload, self.limits.max_job_items)
        split = split_payload(
            items, items_per_batch(job_type, self.limits.batch_max_items), self.limits.batch_max_bytes
        )
        scope = actor.scope
        job_id = str(uuid.uuid4())
        now = self.clock()
        payload_object = f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/bulk-jobs/{job_id}/payload.json"
        self.payloads.put_new(payload_object, split.text)
        text = split.text.decode()
        job = BulkJob(
            id=job_id,
            tenant_id=scope.tenant_id,
            org_id=scope.org_id,
            job_type=job_type,
            status=JobStatus.PENDING,
            payload=text if len(split.text) <= self.limits.inline_payload_max_bytes else None,
            payload_bytes=len(split.text),
            created_by=actor.email,
            created_at=now,
            updated_at=now,
            item_count=len(items),
            batches=split.batches,
            payload_object=payload_object,
            dry_run=dry_run,
        )
        # The payload was stored first: a refused job's (429) is left to the bucket's lifecycle.
        self.jobs.create_job(job, limit=self.limits.running)
        self._queue_start(job)
        view = job.view()
        view.payload = text
        return view

    def cancel(self, actor: Principal, job_id: str) -> BulkJobView:
        """Stop a job: batches not yet committed are skipped, committed ones stay and are counted."""
        now = self.clock()
        scope = actor.scope
        ctx = ChangeContext(scope.tenant_id, scope.org_id, actor.email, now, job_id=job_id)

        def audit(job: BulkJob) -> AuditEvent:
            before = {"status": job.status.value}
            return ctx.event(ResourceType.BULK_JOB, Verb.CANCELLED, job_id, before, {"status": "CANCELLED"})

        job = self.jobs.cancel_job(job_id, audit, now)
        announce(self.notices, scope, job_id)
        return self._with_payload(job)

    def get(self, job_id: str) -> BulkJobView:
        return self._with_payload(self.jobs.with_progress(self.jobs.get_job(job_id)))

    def _with_payload(self, job: BulkJob) -> BulkJobView:
        view = job.view()
        if view.payload is None and job.payload_object is not None:
            view.payload = self.payloads.read(job.payload_object).decode()
        return view

    def list(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJobView]:
        page = self.jobs.list_jobs(job_type, min(limit, MAX_PAGE), cursor)
        views = [self.jobs.with_progress(j).view() for j in page.items]
        return Page[BulkJobView](items=views, next_cursor=page.next_cursor)

    def errors_csv(self, job_id: str) -> Iterator[bytes]:
        """Every failure as CSV, streamed: for a CSV upload its failed rows as they were sent plus
        `line`, `error_code`, `error_message`, so the fixed rows can be uploaded again."""
        job = self.jobs.get_job(job_id)  # 404 now, before the reply starts
        return self._errors_csv(job)

    def _errors_csv(self, job: BulkJob) -> Iterator[bytes]:
        columns = job.columns
        if job.source is None or job.source.format is not UploadFormat.CSV or columns is None:
            yield csv_row(GENERIC_ERROR_COLUMNS)
            for _, errors in self.jobs.error_batches(job.id):
                yield b"".join(generic_error_row(e) for e in errors)
            return
        if self.files is None or job.items_object is None or job.items_generation is None:
            raise RuntimeError("uploads are not wired")
        yield error_header(columns)
        for index, errors in self.jobs.error_batches(job.id):
            batch = self.jobs.batch_range(job, index)
            data = self.files.read(job.items_object, job.items_generation, batch.start, batch.end)
            yield b"".join(error_rows(columns, data, batch, errors))

    def errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        self.jobs.get_job(job_id)  # 404 for a job that is not this tenant's
        return self.jobs.job_errors(job_id, min(limit, 1000), cursor)
