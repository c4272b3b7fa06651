"""Bulk-job use cases the API calls: create a job (split once, store, queue) and read jobs back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.audit import AuditEvent, ChangeContext, ResourceType, Verb
from shared.domain.bulk import parse_payload, split_payload
from shared.domain.models import BulkJob, BulkJobView, ItemError, JobStatus, JobType, Page
from shared.domain.tenancy import Principal
from shared.errors import UnavailableError
from shared.services.job_notifications import announce
from shared.services.ports import JobStore, PayloadStore, TaskQueue
from shared.services.tasks import WorkerTask, start_task_name

MAX_PAGE = 100


@dataclass(frozen=True)
class BulkLimits:
    max_job_items: int
    batch_max_items: int
    batch_max_bytes: int
    inline_payload_max_bytes: int


@dataclass
class BulkJobs:
    jobs: JobStore
    payloads: PayloadStore
    tasks: TaskQueue
    limits: BulkLimits
    clock: Callable[[], datetime]
    notices: TaskQueue | None = None  # where a job's end is announced (the exports queue); None: nowhere

    def create(self, actor: Principal, job_type: JobType, payload: Any, dry_run: bool = False) -> BulkJobView:
        items = parse_payload(job_type, payload, self.limits.max_job_items)
        split = split_payload(items, self.limits.batch_max_items, self.limits.batch_max_bytes)
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
        self.jobs.create_job(job)
        try:
            self.tasks.enqueue(start_task_name(job_id), WorkerTask.start(scope, job_id).to_body())
        except UnavailableError:
            # The job exists but nothing will run it: say so on the job rather than leave it PENDING.
            self.jobs.fail_job(job_id, "the job could not be queued; submit it again", self.clock())
            raise
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
        return self._with_payload(self.jobs.get_job(job_id))

    def _with_payload(self, job: BulkJob) -> BulkJobView:
        view = job.view()
        if view.payload is None:
            view.payload = self.payloads.read(job.payload_object).decode()
        return view

    def list(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJobView]:
        page = self.jobs.list_jobs(job_type, min(limit, MAX_PAGE), cursor)
        return Page[BulkJobView](items=[j.view() for j in page.items], next_cursor=page.next_cursor)

    def errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        self.jobs.get_job(job_id)  # 404 for a job that is not this tenant's
        return self.jobs.job_errors(job_id, min(limit, 1000), cursor)
