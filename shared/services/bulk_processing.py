"""The bulk-job worker's use case: what one Cloud Tasks delivery does.

Delivery is at least once, possibly concurrent. A batch is one atomic write (products, its
completion marker, the job's counters), so a redelivery either finds the marker and does nothing,
or finds nothing written and does the whole batch; two racing deliveries cannot both commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain.audit import ChangeContext
from shared.domain.bulk import (
    BatchInputs,
    ids_to_read,
    parse_batch_slice,
    plan_batch,
    references_to_read,
    touched_ids,
)
from shared.domain.catalog import Collection, Product, References
from shared.domain.models import BulkJob, JobStatus
from shared.errors import NotFoundError, PermanentTaskError
from shared.services.batch_commit import commit_batch
from shared.services.ports import CatalogStore, JobStore, PayloadStore, TaskQueue
from shared.services.quality import Quality
from shared.services.tasks import WorkerTask, batch_task_name

log = logging.getLogger(__name__)


@dataclass
class BulkJobProcessor:
    jobs: JobStore
    catalog: CatalogStore
    payloads: PayloadStore
    tasks: TaskQueue
    quality: Quality
    clock: Callable[[], datetime]

    def handle(self, task: WorkerTask) -> str:
        """Run one task; returns what happened. Transient failures raise (Cloud Tasks retries)."""
        try:
            job = self.jobs.get_job(task.job_id)
        except NotFoundError as exc:
            raise PermanentTaskError(f"job {task.job_id} does not exist") from exc
        if task.kind == "start":
            return self._start(job, task)
        if task.batch_index is None or task.batch_index >= len(job.batches):
            raise PermanentTaskError(f"job {job.id} has no batch {task.batch_index}")
        return self._run_batch(job, task.batch_index)

    def _start(self, job: BulkJob, task: WorkerTask) -> str:
        job = self.jobs.start_job(job.id, self.clock())
        if job.status is not JobStatus.PROCESSING:
            return f"job already {job.status.value}"
        # Enqueued after the state change committed; a redelivered start re-enqueues, which the
        # queue deduplicates by name and the batches' markers make harmless anyway.
        for batch in job.batches:
            self.tasks.enqueue(
                batch_task_name(job.id, batch.index), WorkerTask.batch(task.scope, job.id, batch.index).to_body()
            )
        return f"queued {len(job.batches)} batch(es)"

    def _run_batch(self, job: BulkJob, index: int) -> str:
        if job.status is JobStatus.FAILED:
            return "job already FAILED"
        batch = job.batches[index]
        try:
            items = parse_batch_slice(self.payloads.read(job.payload_object, batch.start, batch.end))
        except (NotFoundError, ValueError) as exc:
            self.jobs.fail_job(job.id, f"the stored payload is unreadable (batch {index})", self.clock())
            raise PermanentTaskError(f"payload of job {job.id} unreadable: {exc}") from exc
        outcome = "already committed"
        known: dict[str, tuple[Product, object]] = {}
        if not self.jobs.batch_done(job.id, index):
            now = self.clock()
            ctx = ChangeContext(job.tenant_id, job.org_id, job.created_by, now, job_id=job.id)
            plan = plan_batch(job.job_type, items, batch.first_item, self._read_inputs(job, items), ctx)
            plan, versions = commit_batch(self.jobs, job.id, batch, plan, now)  # less what the store refuses
            outcome = "committed" if versions is not None else "already committed (concurrent delivery)"
            # What this delivery just wrote need not be read back to be judged.
            known = {
                w.doc_id: (Product.model_validate(w.data), versions[w.doc_id])
                for w in plan.writes
                if versions and w.kind == "create"
            }
            log.info("job %s batch %s %s: %s ok, %s failed", job.id, index, outcome, plan.processed, len(plan.errors))
        # Evaluation follows every delivery, a redelivered one too: if the first died after its
        # commit, this is where the batch's products get judged. It is idempotent.
        self.quality.evaluate(touched_ids(job.job_type, job.id, items, batch.first_item), known)
        self.jobs.finish_job_if_done(job.id, self.clock())
        return f"batch {outcome}"

    def _read_inputs(self, job: BulkJob, items: list[object]) -> BatchInputs:
        brand_ids, category_ids = references_to_read(job.job_type, items)
        return BatchInputs(
            products=self.catalog.get_many(Collection.PRODUCTS, ids_to_read(job.job_type, items)),
            references=References(
                brands=frozenset(self.catalog.get_many(Collection.BRANDS, brand_ids)),
                categories=frozenset(self.catalog.get_many(Collection.CATEGORIES, category_ids)),
            ),
        )
