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
from typing import Any

from shared.domain.audit import ChangeContext
from shared.domain.bulk import (
    BatchInputs,
    BatchPlan,
    ids_to_read,
    not_applied,
    parse_batch_slice,
    plan_batch,
    references_to_read,
    touched_ids,
)
from shared.domain.catalog import Collection, Product, References
from shared.domain.dry_run import combine, holder_products, judge_batch, payload_holders
from shared.domain.models import BatchRange, BulkJob, JobStatus
from shared.domain.quality import holder_key, parse_holder, verified_holders
from shared.domain.tenancy import Scope
from shared.errors import NotFoundError, PermanentTaskError, SynqError
from shared.services.batch_commit import commit_batch
from shared.services.job_notifications import announce
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
    max_attempts: int = 10  # deliveries of one task; wiring passes BATCH_MAX_ATTEMPTS
    notices: TaskQueue | None = None  # where a job's end is announced (the exports queue); None: nowhere

    def handle(self, task: WorkerTask, attempt: int = 1) -> str:
        """Run one task, delivered for the `attempt`-th time; returns what happened. Transient
        failures raise (Cloud Tasks retries), except on the last attempt, which ends the task."""
        try:
            job = self.jobs.get_job(task.job_id)
        except NotFoundError as exc:
            raise PermanentTaskError(f"job {task.job_id} does not exist") from exc
        try:
            if task.kind == "start":
                return self._start(job, task)
            if task.batch_index is None or task.batch_index >= len(job.batches):
                raise PermanentTaskError(f"job {job.id} has no batch {task.batch_index}")
            return self._run_batch(job, task.batch_index)
        except PermanentTaskError:
            raise
        except Exception as exc:
            if attempt < self.max_attempts:
                raise
            # The last attempt failed too, and nothing will retry this task: it ends here.
            if task.batch_index is None:
                return self._fail_start(job, _why(exc, attempt))
            return self._give_up_batch(job, job.batches[task.batch_index], _why(exc, attempt))

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
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return f"job already {job.status.value}"
        batch = job.batches[index]
        try:
            items = parse_batch_slice(self.payloads.read(job.payload_object, batch.start, batch.end))
        except (NotFoundError, ValueError) as exc:
            self.jobs.fail_job(job.id, f"the stored payload is unreadable (batch {index})", self.clock())
            announce(self.notices, Scope(job.tenant_id, job.org_id), job.id)
            raise PermanentTaskError(f"payload of job {job.id} unreadable: {exc}") from exc
        outcome = "already committed"
        known: dict[str, tuple[Product, object]] = {}
        if not self.jobs.batch_done(job.id, index):
            now = self.clock()
            ctx = ChangeContext(job.tenant_id, job.org_id, job.created_by, now, job_id=job.id)
            inputs = self._read_inputs(job, items)
            plan = plan_batch(job.job_type, items, batch.first_item, inputs, ctx)
            if job.dry_run:  # judged in full, then committed as a batch that writes nothing
                self.jobs.save_dry_run(job.id, index, judge_batch(plan, inputs))
                plan = BatchPlan([], [], plan.errors, plan.processed)
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
        if not job.dry_run:
            self.quality.evaluate(touched_ids(job.job_type, job.id, items, batch.first_item), known)
        # A redelivery (its marker found) announces again too: its first delivery may have died
        # between finishing the job and announcing it. The task's name makes it one announcement.
        self._finish_if_done(job, announce_finished=outcome == "already committed")
        return f"batch {outcome}"

    def _finish_if_done(self, job: BulkJob, announce_finished: bool = False) -> BulkJob:
        now = self.clock()
        if job.dry_run:
            finished = self.jobs.finish_job_if_done(job.id, now, self._dry_run_outcome)
        else:
            finished = self.jobs.finish_job_if_done(job.id, now)
        if finished.status.finished and (announce_finished or finished.completed_at == now):  # now: this call ended it
            announce(self.notices, Scope(job.tenant_id, job.org_id), job.id)
        return finished

    def _dry_run_outcome(self, job: BulkJob) -> dict[str, Any]:
        """A dry run ends COMPLETED (it ran to the end, whatever it found), with its report."""
        batches = self.jobs.dry_run_batches(job.id)
        holders, touched = payload_holders(batches)
        index = self.quality.issues.holders(set(holders))
        others = holder_products(index, touched)
        live = verified_holders(
            {sku: {k for k in keys if parse_holder(k)[0] in others} for sku, keys in index.items()},
            {pid: p for pid, (p, _) in self.catalog.get_many(Collection.PRODUCTS, sorted(others)).items()},
        )
        catalog_holders = {sku: {holder_key(*h) for h in hs} for sku, hs in live.items()}
        report = combine(batches, catalog_holders)
        return {"status": JobStatus.COMPLETED.value, "dry_run_report": report.model_dump()}

    def _fail_start(self, job: BulkJob, why: str) -> str:
        """Batches the start managed to queue find the job FAILED and do nothing."""
        log.error("job %s: start given up after %s", job.id, why)
        self.jobs.fail_job(job.id, f"the job could not be started: {why}", self.clock())
        announce(self.notices, Scope(job.tenant_id, job.org_id), job.id)
        return "job FAILED: could not start"

    def _give_up_batch(self, job: BulkJob, batch: BatchRange, why: str) -> str:
        """Record every item of the batch as not applied, behind the same marker as a normal
        commit, so the job still ends with exact counts; if an earlier attempt committed the batch
        after all, the marker turns this write away whole."""
        log.error("job %s: batch %s given up after %s", job.id, batch.index, why)
        try:  # the items, if they can be read, let each failure name its product
            items: list[Any] | None = parse_batch_slice(self.payloads.read(job.payload_object, batch.start, batch.end))
        except (SynqError, ValueError):
            items = None
        committed = self.jobs.commit_batch(
            job.id, batch, not_applied(job.job_type, batch, items, f"the batch failed {why}"), self.clock()
        )
        self._finish_if_done(job)
        return "batch not applied (attempts exhausted)" if committed is not None else "batch already committed"

    def _read_inputs(self, job: BulkJob, items: list[object]) -> BatchInputs:
        brand_ids, category_ids = references_to_read(job.job_type, items)
        return BatchInputs(
            products=self.catalog.get_many(Collection.PRODUCTS, ids_to_read(job.job_type, items)),
            references=References(
                brands=frozenset(self.catalog.get_many(Collection.BRANDS, brand_ids)),
                categories=frozenset(self.catalog.get_many(Collection.CATEGORIES, category_ids)),
            ),
        )


def _why(exc: Exception, attempt: int) -> str:
    """What the tenant is told of a task given up on (an unexpected error's details stay in the log)."""
    if not isinstance(exc, SynqError):
        log.error("unexpected failure on the last attempt", exc_info=exc)
    cause = exc.message if isinstance(exc, SynqError) else "an internal error"
    return f"{attempt} time(s); last: {cause}"
