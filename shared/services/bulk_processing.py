"""The bulk-job worker's use case: what one Cloud Tasks delivery does.

Delivery is at least once, possibly concurrent. A batch is one atomic write (products, their
audit events and first evaluation records, its completion marker, the job's counters), so a
redelivery either finds the marker and does nothing, or finds nothing written and does the whole
batch; two racing deliveries cannot both commit. A batch too large for one commit is several
atomic writes, each a leading part of it behind a marker of its own, and a redelivery goes on
after the parts already committed.
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
    ids_to_read,
    items_that_fit,
    parse_batch_slice,
    plan_batch,
    references_to_read,
    remaining,
    touched_ids,
)
from shared.domain.catalog import Collection, Product, References
from shared.domain.models import BatchPart, BatchRange, BulkJob, JobStatus
from shared.errors import ConflictError, NotFoundError, PermanentTaskError, SynqError
from shared.services.batch_commit import commit_batch, not_applied_after_parts
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
        if job.status is JobStatus.FAILED:
            return "job already FAILED"
        batch = job.batches[index]
        try:
            items = parse_batch_slice(self.payloads.read(job.payload_object, batch.start, batch.end))
        except (NotFoundError, ValueError) as exc:
            self.jobs.fail_job(job.id, f"the stored payload is unreadable (batch {index})", self.clock())
            raise PermanentTaskError(f"payload of job {job.id} unreadable: {exc}") from exc
        outcome, whole = "already committed", False
        created: Created = {}
        if not self.jobs.batch_done(job.id, index):
            outcome, created, whole = self._commit(job, batch, items)
        if whole and created:
            # Committed here with their first records: only a SKU held by another product too
            # is left to judge (and the products holding it).
            self.quality.judge_duplicates(created)
        else:
            # Evaluation follows every other delivery, a redelivered one too: if the first died
            # after its commit, this is where the batch's products get judged. It is idempotent.
            self.quality.evaluate(touched_ids(job.job_type, job.id, items, batch.first_item), created, recorded=True)
        self.jobs.finish_job_if_done(job.id, self.clock())
        return f"batch {outcome}"

    def _commit(self, job: BulkJob, batch: BatchRange, items: list[Any]) -> tuple[str, Created, bool]:
        """Plan and commit the batch: in one atomic write, or, if its writes do not fit one commit
        (500 writes, 10 MiB), in several, each a leading part of the items left, with a marker
        that makes it happen once. Returns the outcome, the products created here with their
        versions, and whether this delivery committed the whole batch itself."""
        now = self.clock()
        ctx = ChangeContext(job.tenant_id, job.org_id, job.created_by, now, job_id=job.id)
        earlier: list[BatchPart] = []
        created: Created = {}
        whole = True
        processed = failed = 0
        while True:
            start = remaining(batch, earlier).first_item
            rest = items[start - batch.first_item :]
            inputs = self._read_inputs(job, rest)
            count = len(rest)
            plan = plan_batch(job.job_type, rest, start, inputs, ctx)
            while (fit := items_that_fit(plan, start, count)) < count:
                count = fit
                plan = plan_batch(job.job_type, rest[:count], start, inputs, ctx)
            plan.earlier = earlier
            last = count == len(rest)
            try:  # less what the store refuses
                plan, versions = commit_batch(self.jobs, job.id, batch, plan, now, None if last else start + count)
            except ConflictError:
                parts = self.jobs.batch_parts(job.id, batch.index)
                if len(parts) <= len(earlier):
                    raise  # a product changed between our read and our write: retry the batch
                earlier, whole = parts, False  # another delivery got further: go on after it
                continue
            if versions is None:
                return "already committed (concurrent delivery)", created, False
            # What this delivery just wrote need not be read back to be judged.
            created.update({r.product.id: (r.product, versions[r.product.id]) for r in plan.first_records()})
            processed, failed = processed + plan.processed, failed + len(plan.errors)
            if last:
                parts_note = f" in {len(earlier) + 1} parts" if earlier else ""
                log.info(
                    "job %s batch %s committed%s: %s ok, %s failed", job.id, batch.index, parts_note, processed, failed
                )
                return "committed", created, whole
            earlier = [
                *earlier,
                BatchPart(
                    part=len(earlier),
                    first_item=start,
                    end_item=start + count,
                    processed=plan.processed,
                    failed=len(plan.errors),
                    errors=plan.errors,
                ),
            ]

    def _fail_start(self, job: BulkJob, why: str) -> str:
        """Batches the start managed to queue find the job FAILED and do nothing."""
        log.error("job %s: start given up after %s", job.id, why)
        self.jobs.fail_job(job.id, f"the job could not be started: {why}", self.clock())
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
        plan = not_applied_after_parts(self.jobs, job, batch, items, f"the batch failed {why}")
        committed = self.jobs.commit_batch(job.id, batch, plan, self.clock())
        self.jobs.finish_job_if_done(job.id, self.clock())
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


Created = dict[str, tuple[Product, object]]


def _why(exc: Exception, attempt: int) -> str:
    """What the tenant is told of a task given up on (an unexpected error's details stay in the log)."""
    if not isinstance(exc, SynqError):
        log.error("unexpected failure on the last attempt", exc_info=exc)
    cause = exc.message if isinstance(exc, SynqError) else "an internal error"
    return f"{attempt} time(s); last: {cause}"
