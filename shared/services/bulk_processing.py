"""The bulk-job worker's use case: what one Cloud Tasks delivery does.

Delivery is at least once, possibly concurrent. A batch is one atomic write (products, their
audit events and first evaluation records, its completion marker, the job's counters), so a
redelivery either finds the marker and does nothing, or finds nothing written and does the whole
batch; two racing deliveries cannot both commit. A batch too large for one commit is several
atomic writes, each a leading part of it behind a marker of its own, and a redelivery goes on
after the parts already committed.

At most `max_in_flight` batches of a job are queued or running: the start queues the first ones,
and each batch, once committed (or given up on), queues the one that many places after it, paced
to the tenant's ramp. Every redelivery queues it again under the same name, which the queue
absorbs; a follow-on task lost anyway is the watchdog's to re-queue.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.attributes import template_ids
from shared.domain.audit import ChangeContext
from shared.domain.bulk import (
    BatchInputs,
    BatchPlan,
    Pacing,
    ids_to_read,
    items_per_batch,
    items_that_fit,
    parse_batch_slice,
    plan_batch,
    readable,
    references_to_read,
    remaining,
    touched_ids,
)
from shared.domain.catalog import Collection, Product, References
from shared.domain.dry_run import combine, holder_products, judge_batch, payload_holders
from shared.domain.models import BatchPart, BatchRange, BulkJob, JobStatus, UploadFormat
from shared.domain.quality import holder_key, parse_holder, verified_holders
from shared.domain.tenancy import Scope
from shared.domain.uploads import (
    ChunkStream,
    FilePlan,
    PlannedFile,
    UnreadableFileError,
    batch_items,
    item_records,
    json_array_lines,
    plan_batches,
)
from shared.errors import ConflictError, NotFoundError, PermanentTaskError, SynqError
from shared.services.attributes import load_schema
from shared.services.batch_commit import commit_batch, not_applied_after_parts
from shared.services.bulk_jobs import BulkLimits
from shared.services.job_notifications import announce
from shared.services.ports import CatalogStore, JobStore, PayloadStore, TaskQueue, UploadFiles
from shared.services.quality import Quality
from shared.services.tasks import WorkerTask, batch_task_name
from shared.services.uploads import working_object

log = logging.getLogger(__name__)
DEFAULT_LIMITS = BulkLimits(
    max_job_items=100_000, batch_max_items=249, batch_max_bytes=4_000_000, inline_payload_max_bytes=256 * 1024
)

STOPPED = "stopped between parts: job CANCELLED"


@dataclass
class BulkJobProcessor:
    jobs: JobStore
    catalog: CatalogStore
    payloads: PayloadStore
    tasks: TaskQueue
    quality: Quality
    clock: Callable[[], datetime]
    max_attempts: int = 10  # deliveries of one task; wiring passes BATCH_MAX_ATTEMPTS
    files: UploadFiles | None = None  # uploaded files (jobs made from an upload)
    limits: BulkLimits = field(default_factory=lambda: DEFAULT_LIMITS)
    notices: TaskQueue | None = None  # where a job's end is announced (the exports queue); None: nowhere
    max_in_flight: int | None = None  # batches of a job queued at once (JOB_MAX_IN_FLIGHT_BATCHES); None: all
    pacing: Pacing | None = None  # how fast a tenant's batches may start; None: as fast as they are queued

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
            if task.batch_index is None or task.batch_index >= job.batch_count:
                raise PermanentTaskError(f"job {job.id} has no batch {task.batch_index}")
            return self._run_batch(job, task)
        except PermanentTaskError:
            raise
        except Exception as exc:
            if attempt < self.max_attempts:
                raise
            # The last attempt failed too, and nothing will retry this task: it ends here.
            if task.batch_index is None:
                return self._fail_start(job, _why(exc, attempt))
            return self._give_up_batch(job, task, _why(exc, attempt))

    def _start(self, job: BulkJob, task: WorkerTask) -> str:
        planned = None
        if job.source is not None and job.status is JobStatus.PENDING:
            planned = self._plan_upload(job)
            if planned is None:
                return "job FAILED: its file cannot be imported"
        job = self.jobs.start_job(job.id, self.clock(), planned)
        if job.status is not JobStatus.PROCESSING:
            return f"job already {job.status.value}"
        if self.pacing is not None:
            self.jobs.first_write_at(self.clock())  # the tenant's ramp starts with its first job
        # Enqueued after the state change committed; a redelivered start re-enqueues, which the
        # queue deduplicates by name and the batches' markers make harmless anyway.
        first = job.batch_count if self.max_in_flight is None else min(job.batch_count, self.max_in_flight)
        for index in range(first):
            self.tasks.enqueue(batch_task_name(job.id, index), WorkerTask.batch(task.scope, job.id, index).to_body())
        return (
            f"queued {first} batch(es)"
            if first == job.batch_count
            else f"queued {first} of {job.batch_count} batch(es)"
        )

    def _queue_follower(self, job: BulkJob, task: WorkerTask, batch: BatchRange, started_at: datetime) -> None:
        """Queue the batch `max_in_flight` places after this one, under its own name (a repeat is
        "already queued"), no sooner than the tenant's ramp allows."""
        if self.max_in_flight is None or task.batch_index is None:
            return  # every batch was queued at the start
        follower = task.batch_index + self.max_in_flight
        if follower >= job.batch_count:
            return
        not_before = None
        if self.pacing is not None:
            first = self.jobs.first_write_at(started_at)
            due = self.pacing.next_start(first, started_at, batch.item_count, self.max_in_flight)
            not_before = due if due > self.clock() else None
        body = WorkerTask.batch(task.scope, job.id, follower).to_body()
        self.tasks.enqueue(batch_task_name(job.id, follower), body, not_before)

    def _plan_upload(self, job: BulkJob) -> PlannedFile | None:
        """Read the uploaded file once, streamed, storing its batches' byte ranges as they are
        found; None, with the job FAILED, if the file cannot be imported at all. Planning again (a
        redelivered start) finds and stores the same ranges."""
        files, source = self._files(), job.source
        if source is None or job.items_object is None or job.items_generation is None:
            raise PermanentTaskError(f"job {job.id} has no uploaded file")
        plan = FilePlan()
        limits = self.limits
        items_object, generation = job.items_object, job.items_generation
        try:
            if source.format is UploadFormat.JSON:
                # A JSON array is turned into a JSON Lines working copy, which batches read by range.
                items_object = working_object(job.scope, job.id)
                lines = json_array_lines(ChunkStream(files.chunks(job.items_object, job.items_generation)))
                generation = files.write(items_object, lines)
            records = item_records(source.format, job.job_type, files.chunks(items_object, generation), plan)
            ranges = plan_batches(
                records,
                plan,
                limits.max_upload_items,
                items_per_batch(job.job_type, limits.batch_max_items),
                limits.batch_max_bytes,
            )
            self.jobs.save_plan(job.id, ranges)
        except UnreadableFileError as exc:
            self.jobs.fail_job(job.id, f"the uploaded file cannot be imported: {exc}", self.clock())
            announce(self.notices, job.scope, job.id)
            return None
        except NotFoundError:
            self.jobs.fail_job(job.id, "the uploaded file is gone or was replaced: upload it again", self.clock())
            announce(self.notices, job.scope, job.id)
            return None
        log.info("job %s: planned %s item(s) in %s batch(es)", job.id, plan.item_count, plan.batch_count)
        return PlannedFile(plan.item_count, plan.batch_count, plan.columns, items_object, generation)

    def _files(self) -> UploadFiles:
        if self.files is None:
            raise RuntimeError("upload files are not wired")
        return self.files

    def _batch_items(self, job: BulkJob, batch: BatchRange) -> tuple[list[Any], list[int | None] | None]:
        """A batch's items (and for an upload, each one's line), read from its byte range."""
        if job.source is None:
            return parse_batch_slice(self.payloads.read(job.payload_object or "", batch.start, batch.end)), None
        if job.items_object is None or job.items_generation is None:
            raise ValueError("the job has no items object")
        data = self._files().read(job.items_object, job.items_generation, batch.start, batch.end)
        fmt = UploadFormat.CSV if job.source.format is UploadFormat.CSV else UploadFormat.JSONL
        return batch_items(fmt, job.job_type, data, batch, job.columns)

    def _run_batch(self, job: BulkJob, task: WorkerTask) -> str:
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return f"job already {job.status.value}"
        started_at, index = self.clock(), task.batch_index or 0
        batch = self.jobs.batch_range(job, index)
        try:
            items, lines = self._batch_items(job, batch)
        except (NotFoundError, ValueError) as exc:
            self.jobs.fail_job(job.id, f"the stored payload is unreadable (batch {index})", self.clock())
            announce(self.notices, Scope(job.tenant_id, job.org_id), job.id)
            raise PermanentTaskError(f"payload of job {job.id} unreadable: {exc}") from exc
        outcome, whole = "already committed", False
        created: Created = {}
        if not self.jobs.batch_done(job.id, index):
            outcome, created, whole = self._commit(job, batch, items, lines)
        if outcome != STOPPED and not job.status.finished:
            # Committed, now or before (a redelivery queues it again: its first delivery may have
            # died before it did): the next batch may go. A late redelivery after the job ended
            # queues nothing, or it would walk the job's batches again.
            self._queue_follower(job, task, batch, started_at)
        if job.dry_run:
            pass  # nothing was written, so there is nothing to judge
        elif whole and created:
            # Committed here with their first records: only a SKU held by another product too
            # is left to judge (and the products holding it).
            self.quality.judge_duplicates(created)
        else:
            # Evaluation follows every other delivery, a redelivered one too: if the first died
            # after its commit, this is where the batch's products get judged. It is idempotent.
            self.quality.evaluate(touched_ids(job.job_type, job.id, items, batch.first_item), created, recorded=True)
        if outcome != STOPPED:
            # With K batches in flight, another batch may commit last while this one is still
            # judging: the job finishes once every batch has been judged, not only committed.
            self.jobs.mark_evaluated(job.id, index)
        # A redelivery (its marker found) announces again too: its first delivery may have died
        # between finishing the job and announcing it. The task's name makes it one announcement.
        self._finish_if_done(job, announce_finished=outcome == "already committed")
        return f"batch {outcome}"

    def _commit(
        self, job: BulkJob, batch: BatchRange, items: list[Any], lines: list[int | None] | None
    ) -> tuple[str, Created, bool]:
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
            if earlier and self.jobs.get_job(job.id).status is JobStatus.CANCELLED:
                # Between parts: a cancel since the batch began stops it here (its skip marker
                # keeps the last part out anyway; this keeps the parts before it out too).
                return STOPPED, created, False
            start = remaining(batch, earlier).first_item
            rest = items[start - batch.first_item :]
            rest_lines = lines[start - batch.first_item :] if lines is not None else None
            inputs = self._read_inputs(job, rest)
            count = len(rest)
            plan = plan_batch(job.job_type, rest, start, inputs, ctx, rest_lines)
            if job.dry_run:  # judged in full, then committed as a batch that writes nothing
                self.jobs.save_dry_run(job.id, batch.index, judge_batch(plan, inputs))
                plan = BatchPlan([], [], plan.errors, plan.processed)
            while (fit := items_that_fit(plan, start, count)) < count:
                count = fit
                plan = plan_batch(job.job_type, rest[:count], start, inputs, ctx, rest_lines)
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

    def _give_up_batch(self, job: BulkJob, task: WorkerTask, why: str) -> str:
        """Record every item of the batch as not applied, behind the same marker as a normal
        commit, so the job still ends with exact counts; if an earlier attempt committed the batch
        after all, the marker turns this write away whole. Either way the next batch may go."""
        started_at, batch = self.clock(), self.jobs.batch_range(job, task.batch_index or 0)
        log.error("job %s: batch %s given up after %s", job.id, batch.index, why)
        items: list[Any] | None = None
        lines: list[int | None] | None = None
        with contextlib.suppress(SynqError, ValueError):  # the items, if readable, name each failure's product
            items, lines = self._batch_items(job, batch)
        plan = not_applied_after_parts(self.jobs, job, batch, items, f"the batch failed {why}", lines)
        committed = self.jobs.commit_batch(job.id, batch, plan, self.clock())
        self._queue_follower(job, task, batch, started_at)
        self.jobs.mark_evaluated(job.id, batch.index)  # nothing of it is judged here: the sweep will
        self._finish_if_done(job)
        return "batch not applied (attempts exhausted)" if committed is not None else "batch already committed"

    def _read_inputs(self, job: BulkJob, items: list[object]) -> BatchInputs:
        brand_ids, category_ids = references_to_read(job.job_type, items)
        products = self.catalog.get_many(Collection.PRODUCTS, ids_to_read(job.job_type, items))
        # Definitions and templates once per batch, not per item.
        schema = load_schema(self.catalog, template_ids([*readable(items), *(p for p, _ in products.values())]))
        return BatchInputs(
            products=products,
            references=References(
                brands=frozenset(self.catalog.get_many(Collection.BRANDS, brand_ids)),
                categories=frozenset(self.catalog.get_many(Collection.CATEGORIES, category_ids)),
                templates=frozenset(schema.templates),
            ),
            schema=schema,
        )


Created = dict[str, tuple[Product, object]]


def _why(exc: Exception, attempt: int) -> str:
    """What the tenant is told of a task given up on (an unexpected error's details stay in the log)."""
    if not isinstance(exc, SynqError):
        log.error("unexpected failure on the last attempt", exc_info=exc)
    cause = exc.message if isinstance(exc, SynqError) else "an internal error"
    return f"{attempt} time(s); last: {cause}"
