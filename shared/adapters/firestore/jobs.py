"""Bulk jobs and their batch markers in Firestore."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import queries, wire
from shared.adapters.firestore.admission import admit, run_admitting
from shared.adapters.firestore.base import (
    AUDIT_EVENTS,
    INDEX,
    TenantRoot,
    decode_cursor,
    encode_cursor,
    newest_first,
    newest_first_page,
)
from shared.adapters.firestore.quality import first_records_writes
from shared.adapters.firestore.stats import DEFAULT_SHARDS, counter_writes
from shared.adapters.firestore.uploads import UPLOADS
from shared.adapters.google_errors import translated
from shared.domain.audit import AuditEvent
from shared.domain.bulk import BatchPlan, final_status
from shared.domain.counters import combined, summary_deltas
from shared.domain.deliveries import Delivery, DeliveryStatus
from shared.domain.dry_run import DryRunBatch
from shared.domain.models import BatchPart, BatchRange, BulkJob, ItemError, JobStatus, JobType, Page
from shared.domain.notifications import job_delivery
from shared.domain.tenancy import RunningLimit, Scope
from shared.domain.uploads import PlannedFile
from shared.errors import ConflictError, NotFoundError, StoreRefusedError

JOB_ERRORS_KEPT = 100
PLAN_CHUNK = 500  # batch ranges per plan document (about 60 bytes each: far from the 1 MiB limit)
FINISH_ATTEMPTS = 5
CANCEL_ATTEMPTS = 20  # each a read and a versioned write; only batches committing meanwhile make one fail
SKIP_CHUNK = 400
# A batch's marker that its products have been judged (its last step before it may finish the job).
EVALUATED = "evaluated"
# The marker of a batch a cancel skipped: it applied and counted nothing.
SKIPPED = {"processed": 0, "failed": 0, "has_errors": False, "errors": [], "skipped": True}
UNFINISHED = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)
# No document was last updated at the epoch's first microsecond (a missing one has no update
# time at all): a write expecting it can never apply.
NEVER = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
# The tenant's first-write time (the start of its 500/50/5 ramp): system/ingest, beside its collections.
SYSTEM, INGEST = "system", "ingest"


class FirestoreJobStore:
    """Implements JobStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope, stats_shards: int = DEFAULT_SHARDS) -> None:
        self._root = TenantRoot(client, scope)
        self._client = client
        self._jobs = self._root.collection("bulk_jobs")
        self._shards = stats_shards

    def create_job(self, job: BulkJob, upload_id: str | None = None, limit: RunningLimit | None = None) -> None:
        ref = self._jobs.document(job.id)
        if upload_id is None and limit is None:
            with translated("bulk job"):
                ref.create(job.model_dump(mode="python"))
            return
        upload = self._root.collection(UPLOADS).document(upload_id) if upload_id else None

        @firestore.transactional
        def create(txn: firestore.Transaction) -> None:
            # The upload is claimed in the same write that creates its job: used once, whatever races.
            if upload is not None:
                snap = upload.get(transaction=txn)
                if not snap.exists:
                    raise NotFoundError("upload not found")
                if snap.get("job_id"):
                    raise ConflictError(f"the upload was used already, by bulk job {snap.get('job_id')}")
            if limit is not None:  # reads before any write, as a transaction must
                admit(self._client, txn, job.tenant_id, ref, UNFINISHED, limit)
            if upload is not None:
                txn.update(upload, {"job_id": job.id})
            txn.create(ref, job.model_dump(mode="python"))

        with translated("bulk job"):
            run_admitting(self._client, create)

    def get_job(self, job_id: str) -> BulkJob:
        with translated("bulk job"):
            snap = self._jobs.document(job_id).get()
        if not snap.exists:
            raise NotFoundError("bulk job not found")
        return BulkJob.model_validate(snap.to_dict())

    def list_jobs(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJob]:
        with translated("bulk jobs"):
            docs = newest_first(queries.JOBS_OF_TYPE, self._jobs, limit, cursor, {"job_type": job_type.value})
            return newest_first_page(BulkJob, docs, limit)

    def with_progress(self, job: BulkJob) -> BulkJob:
        """The job with its counts as the markers have them now. A COMPLETED job's stored counts
        are final (every batch had committed); a CANCELLED or FAILED one may still gain a part
        that was on its way, so it is counted too."""
        if job.started_at is None or job.status is JobStatus.COMPLETED:
            return job
        processed, failed, done = self._counts(job.id)
        return job.model_copy(update={"processed_items": processed, "failed_items": failed, "batches_done": done})

    def _counts(self, job_id: str) -> tuple[int, int, int]:
        """Items applied and failed (every commit, a batch's parts too, leaves a part marker with
        its own counts) and batches done (a commit or skip marker each): two aggregation reads,
        one per 1,000 index entries, and no write to the job document from any batch."""
        job = self._jobs.document(job_id)
        sums = job.collection("parts").sum("processed", alias="processed").sum("failed", alias="failed")
        done = job.collection("batches").count(alias="done")
        with translated("bulk job progress"):
            found = {r.alias: r.value for rows in (sums.get(), done.get()) for row in rows for r in row}
        return int(found.get("processed") or 0), int(found.get("failed") or 0), int(found.get("done") or 0)

    def _done_count(self, job_id: str, markers: str) -> int:
        done = self._jobs.document(job_id).collection(markers).count(alias="done")
        with translated("bulk job progress"):
            return int(next(r.value for row in done.get() for r in row))

    def mark_evaluated(self, job_id: str, batch_index: int) -> None:
        # Empty: its name is the batch, and only count() reads the collection (no index entries).
        with translated("bulk job batch"):
            self._jobs.document(job_id).collection(EVALUATED).document(f"{batch_index:05d}").set({})

    def start_job(self, job_id: str, now: datetime, planned: PlannedFile | None = None) -> BulkJob:
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def start(txn: firestore.Transaction) -> BulkJob:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise NotFoundError("bulk job not found")
            job = BulkJob.model_validate(snap.to_dict())
            if job.status is not JobStatus.PENDING:
                return job
            changes: dict[str, Any] = {
                "status": JobStatus.PROCESSING.value,
                "total_items": job.item_count,
                "started_at": now,
                "updated_at": now,
            }
            if planned is not None:
                changes |= {
                    "total_items": planned.item_count,
                    "item_count": planned.item_count,
                    "planned_batches": planned.batch_count,
                    "columns": planned.columns,
                    "items_object": planned.items_object,
                    "items_generation": planned.items_generation,
                }
            txn.update(ref, changes)
            return job.model_copy(update={**changes, "status": JobStatus.PROCESSING})

        with translated("bulk job"):
            started: BulkJob = start(self._client.transaction())
        return started

    def save_plan(self, job_id: str, batches: Iterable[BatchRange]) -> None:
        """Store an uploaded job's batch ranges beside it, PLAN_CHUNK a document, written as they
        come. Planning the same file again writes the same documents."""
        chunk: list[BatchRange] = []
        for batch in batches:
            chunk.append(batch)
            if len(chunk) == PLAN_CHUNK:
                self._save_plan_chunk(job_id, chunk)
                chunk = []
        if chunk:
            self._save_plan_chunk(job_id, chunk)

    def _save_plan_chunk(self, job_id: str, chunk: list[BatchRange]) -> None:
        number = chunk[0].index // PLAN_CHUNK
        doc = {"batches": [b.model_dump() for b in chunk]}
        with translated("bulk job plan"):
            self._jobs.document(job_id).collection("plan").document(f"{number:05d}").set(doc)

    def batch_range(self, job: BulkJob, index: int) -> BatchRange:
        if job.planned_batches is None:
            return job.batches[index]
        with translated("bulk job plan"):
            snap = self._jobs.document(job.id).collection("plan").document(f"{index // PLAN_CHUNK:05d}").get()
        if not snap.exists:
            raise NotFoundError(f"bulk job plan: batch {index} not found")
        return BatchRange.model_validate(snap.get("batches")[index % PLAN_CHUNK])

    def _all_batches(self, job: BulkJob) -> list[BatchRange]:
        """Every batch of a job: an inline job holds them, an uploaded job's are in its plan
        documents (none before it is planned)."""
        if job.planned_batches is None:
            return job.batches
        with translated("bulk job plan"):
            docs = self._jobs.document(job.id).collection("plan").stream()
            return [BatchRange.model_validate(b) for doc in docs for b in doc.get("batches")]

    def error_batches(self, job_id: str) -> Iterator[tuple[int, list[ItemError]]]:
        """Each batch that has failures, in order, with them: streamed, one batch at a time."""
        query = queries.BATCHES_WITH_ERRORS.build(
            self._jobs.document(job_id).collection("batches"), {"has_errors": True}
        )
        with translated("bulk job errors"):
            for snap in query.stream():
                yield snap.get("index"), [ItemError.model_validate(e) for e in snap.get("errors")]

    def batch_done(self, job_id: str, batch_index: int) -> bool:
        with translated("bulk job batch"):
            return bool(self._marker(job_id, batch_index).get().exists)

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> dict[str, Any] | None:
        """The batch's last (usually only) part, with its marker."""
        return self._commit(job_id, batch, plan, now, batch.first_item + batch.item_count, last=True)

    def commit_part(
        self, job_id: str, batch: BatchRange, plan: BatchPlan, end_item: int, now: datetime
    ) -> dict[str, Any] | None:
        return self._commit(job_id, batch, plan, now, end_item, last=False)

    def _commit(
        self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime, end_item: int, last: bool
    ) -> dict[str, Any] | None:
        earlier = plan.earlier
        part = {
            "batch": batch.index,
            "part": len(earlier),
            "first_item": earlier[-1].end_item if earlier else batch.first_item,
            "end_item": end_item,
            "processed": plan.processed,
            "failed": len(plan.errors),
            "errors": [e.model_dump() for e in plan.errors],
            "committed_at": now,
        }
        # The part's create() is the guard: of two deliveries that found the same parts committed,
        # one commits the next and the other's whole write is rejected (and it looks again).
        markers = [wire.create(self._part_path(job_id, batch.index, len(earlier)), part)]
        if last:
            errors = [e for p in earlier for e in p.errors] + plan.errors
            processed = sum(p.processed for p in earlier) + plan.processed
            marker = {
                "index": batch.index,
                "first_item": batch.first_item,
                "processed": processed,
                "failed": len(errors),
                "has_errors": bool(errors),
                "errors": [e.model_dump() for e in errors],
                "committed_at": now,
            }
            # The marker's create() keeps the batch from being committed (or given up) twice.
            markers.insert(0, wire.create(self._root.path("bulk_jobs", f"{job_id}/batches/{batch.index:05d}"), marker))
        # Every part marker carries its own counts, so the job's counts (summed over them) say
        # exactly what was applied at any moment, also when a cancel keeps the batch's last part
        # from committing. Nothing here writes the job document: a job's batches commit side by
        # side without queueing on one document (docs/scaling.md, section 4).
        pbs = [
            *markers,
            *self._root.encode(plan.writes, plan.events),
            *first_records_writes(self._root, plan.first_records()),
            *self._catalog_counts(job_id, batch, plan),
        ]
        try:
            with translated("bulk job batch"):
                results = wire.commit(self._client, pbs)
        except ConflictError:
            if self.batch_done(job_id, batch.index):
                return None
            raise  # a product changed between our read and our write, or another delivery committed a part
        written = zip(plan.writes, results[len(markers) : len(markers) + len(plan.writes)], strict=True)
        return {w.doc_id: version for w, version in written if w.kind != "delete"}

    def _catalog_counts(self, job_id: str, batch: BatchRange, plan: BatchPlan) -> list[Any]:
        """What the plan moves of the catalog counters, to go in its own commit (so a batch, or a
        part, counts once), on the shard its job and batch pick."""
        firsts = [summary_deltas(None, r.summary) for r in plan.first_records()]
        counts = combined([*(w.counts for w in plan.writes), *firsts])
        return counter_writes(self._root, counts, f"{job_id}/{batch.index}", self._shards)

    def batch_parts(self, job_id: str, batch_index: int) -> list[BatchPart]:
        parts = (
            self._jobs.document(job_id)
            .collection("parts")
            .where(filter=firestore.FieldFilter("batch", "==", batch_index))
        )
        with translated("bulk job batch parts"):  # a few: sorted here, no composite index needed
            return sorted((BatchPart.model_validate(snap.to_dict()) for snap in parts.stream()), key=lambda p: p.part)

    def _part_path(self, job_id: str, batch_index: int, part: int) -> str:
        # One flat collection of every commit's part marker per job, so one aggregation sums them.
        return self._root.path("bulk_jobs", f"{job_id}/parts/{batch_index:05d}-{part:03d}")

    def finish_job_if_done(
        self,
        job_id: str,
        now: datetime,
        outcome: Callable[[BulkJob], dict[str, Any]] | None = None,
        once_evaluated: bool = True,
    ) -> BulkJob:
        """Flip the job to its final status once every batch is done, exactly once: the write
        expects the version it read (no transaction: the last batches of a job finish together,
        and the emulator's locking transactions time out when they contend), and a job that moved
        meanwhile is looked at again. Done: every batch evaluated (`mark_evaluated`), or, with
        `once_evaluated` False, every batch committed."""
        path = self._root.path("bulk_jobs", job_id)
        markers = EVALUATED if once_evaluated else "batches"
        for _ in range(FINISH_ATTEMPTS):
            with translated("bulk job"):
                found = wire.get_all(self._client, [path])
            if not found:
                raise NotFoundError("bulk job not found")
            job = BulkJob.model_validate(found[0].data)
            if job.status is not JobStatus.PROCESSING or self._done_count(job_id, markers) < job.batch_count:
                return job  # only the batch that sees every batch done writes
            # Read after every marker exists: these counts are final.
            processed, failed, done = self._counts(job_id)
            errors = self.job_errors(job_id, JOB_ERRORS_KEPT, None).items if failed else []
            changes = {
                "status": final_status(processed, failed).value,
                "processed_items": processed,
                "failed_items": failed,
                "batches_done": done,
                "completed_at": now,
                "updated_at": now,
                "errors": [e.model_dump() for e in errors],
                **(outcome(job) if outcome else {}),
            }
            changes["notification"] = _announcement(job_id, changes["status"])
            try:
                with translated("bulk job"):
                    wire.commit(self._client, [wire.update(path, changes, version=found[0].update_time)])
            except ConflictError:
                continue  # finished by another batch, or claimed by a rescue: look again
            return BulkJob.model_validate({**job.model_dump(), **changes})
        raise ConflictError("bulk job: kept changing while being finished")

    def fail_job(self, job_id: str, reason: str, now: datetime) -> None:
        errors = self.job_errors(job_id, JOB_ERRORS_KEPT, None).items
        processed, failed, done = self._counts(job_id)  # as the failure leaves them (announced with it)
        counts = {"processed_items": processed, "failed_items": failed, "batches_done": done}
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def fail(txn: firestore.Transaction) -> None:
            snap = ref.get(transaction=txn)
            if not snap.exists or snap.get("status") not in UNFINISHED:
                return  # a job that finished meanwhile keeps its outcome
            changes = {"status": JobStatus.FAILED.value, "failure_reason": reason, "completed_at": now}
            errors_now = [e.model_dump() for e in errors]
            announcement = _announcement(job_id, JobStatus.FAILED)
            txn.update(
                ref, {**changes, **counts, "updated_at": now, "errors": errors_now, "notification": announcement}
            )

        with translated("bulk job"):
            fail(self._client.transaction())

    def cancel_job(self, job_id: str, audit: Callable[[BulkJob], AuditEvent], now: datetime) -> BulkJob:
        """Move an unfinished job to CANCELLED (with its audit event, in one write), then take every
        uncommitted batch's place: a skip marker created where its commit marker would be. A batch
        commit creates that same marker, so a batch racing the cancel either committed before its
        skip marker (and is counted) or is rejected whole (and is not): once this returns, the
        job's counters are final and exact. ConflictError for a finished job."""
        path = self._root.path("bulk_jobs", job_id)
        for _ in range(CANCEL_ATTEMPTS):
            with translated("bulk job"):
                found = wire.get_all(self._client, [path])
            if not found:
                raise NotFoundError("bulk job not found")
            job = BulkJob.model_validate(found[0].data)
            if job.status.finished:
                raise ConflictError(f"the bulk job is already {job.status.value}; only a running job can be cancelled")
            event = audit(job)
            changes = {
                "status": JobStatus.CANCELLED.value,
                "completed_at": now,
                "updated_at": now,
                "notification": _announcement(job_id, JobStatus.CANCELLED),
            }
            try:
                with translated("bulk job"):  # versioned: a batch's counters may move meanwhile
                    wire.commit(
                        self._client,
                        [
                            wire.update(path, changes, version=found[0].update_time),
                            wire.create(self._root.path(AUDIT_EVENTS, event.id), event.model_dump(mode="python")),
                        ],
                    )
            except ConflictError:
                continue
            break
        else:
            raise ConflictError("bulk job: kept changing while being cancelled; try again")
        self._skip_batches(job_id, self._all_batches(job), now)
        processed, failed, done = self._counts(job_id)  # as the cancel left them (announced with it)
        changes = {"processed_items": processed, "failed_items": failed, "batches_done": done}
        if failed:  # the first failures, as a finished job shows them
            changes["errors"] = [e.model_dump() for e in self.job_errors(job_id, JOB_ERRORS_KEPT, None).items]
        with translated("bulk job"):
            self._jobs.document(job_id).update(changes)
        return BulkJob.model_validate({**self.get_job(job_id).model_dump(), **changes})

    def _skip_batches(self, job_id: str, batches: list[BatchRange], now: datetime) -> None:
        done = self.done_batches(job_id)
        skipped = [
            wire.create(
                self._root.path("bulk_jobs", f"{job_id}/batches/{b.index:05d}"),
                {**SKIPPED, "index": b.index, "first_item": b.first_item, "committed_at": now},
            )
            for b in batches
            if b.index not in done
        ]
        for start in range(0, len(skipped), SKIP_CHUNK):
            chunk = skipped[start : start + SKIP_CHUNK]
            try:
                with translated("bulk job batches"):
                    wire.commit(self._client, chunk)
            except ConflictError:  # a batch of the chunk committed meanwhile: it stays; the rest one by one
                for pb in chunk:
                    try:
                        with translated("bulk job batch"):
                            wire.commit(self._client, [pb])
                    except ConflictError:
                        pass

    def save_delivery(self, job_id: str, delivery: Delivery, now: datetime) -> None:
        with translated("bulk job"):
            self._jobs.document(job_id).update({"notification": delivery.model_dump(mode="python"), "updated_at": now})

    def claim_notify_rescue(self, job_id: str, stalled_before: datetime, now: datetime) -> BulkJob | None:
        def stalled(job: BulkJob) -> dict[str, Any] | None:
            note = job.notification
            if note is None or note.status is not DeliveryStatus.PENDING:
                return None
            due = note.next_attempt_at or job.updated_at
            return {"notify_rescues": job.notify_rescues + 1} if max(due, job.updated_at) < stalled_before else None

        return self._change_finished(job_id, now, stalled)

    def fail_delivery(self, job_id: str, reason: str, now: datetime) -> None:
        def fail(job: BulkJob) -> dict[str, Any] | None:
            if job.notification is None or job.notification.status is not DeliveryStatus.PENDING:
                return None
            update = {"status": DeliveryStatus.FAILED, "last_error": reason, "next_attempt_at": None}
            return {"notification": job.notification.model_copy(update=update).model_dump(mode="python")}

        self._change_finished(job_id, now, fail)

    def _change_finished(
        self, job_id: str, now: datetime, change: Callable[[BulkJob], dict[str, Any] | None]
    ) -> BulkJob | None:
        """Apply what `change` makes of the job, checked inside a transaction (of two checks
        racing, the second finds it changed); the job as changed, or None when nothing was."""
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def apply(txn: firestore.Transaction) -> BulkJob | None:
            snap = ref.get(transaction=txn)
            changes = change(BulkJob.model_validate(snap.to_dict())) if snap.exists else None
            if not changes:
                return None
            txn.update(ref, {**changes, "updated_at": now})
            return BulkJob.model_validate({**snap.to_dict(), **changes, "updated_at": now})

        with translated("bulk job"):
            changed: BulkJob | None = apply(self._client.transaction())
        return changed

    def save_dry_run(self, job_id: str, batch_index: int, judged: DryRunBatch) -> None:
        # Written before the batch's marker, whole (a redelivery writes it again): the marker says it is final.
        with translated("bulk job dry run"):
            self._jobs.document(job_id).collection("dry_run").document(f"{batch_index:05d}").set(judged.model_dump())

    def dry_run_batches(self, job_id: str) -> list[DryRunBatch]:
        with translated("bulk job dry run"):
            snaps = self._jobs.document(job_id).collection("dry_run").stream()
            return [DryRunBatch.model_validate(snap.to_dict()) for snap in snaps]

    def claim_rescue(self, job_id: str, stalled_before: datetime, now: datetime) -> BulkJob | None:
        ref = self._jobs.document(job_id)
        # Batches do not write the job document: its newest part marker is its last sign of life.
        # Read before the transaction, not in it (a query read there would lock the very range new
        # markers go into); a batch committing in between only makes a harmless re-queue.
        since = firestore.FieldFilter("committed_at", ">=", stalled_before)  # one field: no composite index
        with translated("bulk job"):
            alive = any(True for _ in ref.collection("parts").where(filter=since).limit(1).stream())
        if alive:
            return None

        @firestore.transactional
        def claim(txn: firestore.Transaction) -> BulkJob | None:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                return None
            job = BulkJob.model_validate(snap.to_dict())
            # Checked again inside the transaction: a check racing this one moved updated_at, and
            # then this rescue is not ours to make.
            if job.status.value not in UNFINISHED or job.updated_at >= stalled_before:
                return None
            txn.update(ref, {"rescues": job.rescues + 1, "updated_at": now})
            return job.model_copy(update={"rescues": job.rescues + 1, "updated_at": now})

        with translated("bulk job"):
            claimed: BulkJob | None = claim(self._client.transaction())
        return claimed

    def first_write_at(self, now: datetime) -> datetime:
        """When the tenant's first job began writing (its ramp's start): created once, by the first
        caller, with `now`; every later caller reads it."""
        ref = self._root.collection(SYSTEM).document(INGEST)
        with translated("tenant ingest"):
            snap = ref.get()
            if snap.exists:
                return snap.get("first_write_at")  # type: ignore[no-any-return]
        try:
            with translated("tenant ingest"):
                ref.create({"first_write_at": now})
            return now
        except ConflictError:  # another job's batch created it first
            with translated("tenant ingest"):
                return ref.get().get("first_write_at")  # type: ignore[no-any-return]

    def done_batches(self, job_id: str) -> set[int]:
        markers = self._jobs.document(job_id).collection("batches").select(["index"])  # not the errors
        with translated("bulk job batches"):
            return {int(snap.id) for snap in markers.stream()}

    def job_errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        # The cursor is (last item index returned, its batch): a page starts at that batch.
        after, from_batch = decode_cursor(cursor, INDEX, INDEX) if cursor else [-1, 0]
        batches = self._jobs.document(job_id).collection("batches")
        query = queries.BATCHES_WITH_ERRORS.build(batches, {"has_errors": True}, range_filter=(">=", from_batch))
        found: list[tuple[int, ItemError]] = []
        with translated("bulk job errors"):
            for snap in query.stream():
                found += [
                    (snap.get("index"), ItemError.model_validate(e)) for e in snap.get("errors") if e["index"] > after
                ]
                if len(found) > limit:
                    break
        page = found[:limit]
        next_cursor = encode_cursor([page[-1][1].index, page[-1][0]]) if len(found) > limit else None
        return Page[ItemError](items=[e for _, e in page], next_cursor=next_cursor)

    def _marker(self, job_id: str, batch_index: int) -> Any:
        return self._jobs.document(job_id).collection("batches").document(f"{batch_index:05d}")

    def refused_writes(self, job_id: str, plan: BatchPlan) -> dict[int, str]:
        """The plan's writes the store refuses as invalid, by position, each with the reason.

        A value that cannot be encoded is found here. The rest are found by bisecting with probe
        commits that cannot apply: each ends with a write whose precondition no document meets,
        so the store rejects it whole and writes nothing, and it answers "invalid" instead only
        if a write before that one is refused. Measured on the emulator: it checks every write's
        values before any precondition, and a document's size as each write is applied in order,
        which is why the unmeetable write comes last. If a store ever reported the precondition
        first, a refused write would go unfound and the batch's commit would fail as before.
        """
        refused: dict[int, str] = {}
        candidates: list[tuple[int, list[Any]]] = []
        for position, (w, event) in enumerate(zip(plan.writes, plan.events, strict=True)):
            try:
                candidates.append((position, self._root.encode([w], [event])))
            except StoreRefusedError as exc:
                refused[position] = exc.reason
        self._bisect(job_id, candidates, refused)
        return dict(sorted(refused.items()))

    def _bisect(self, job_id: str, candidates: list[tuple[int, list[Any]]], refused: dict[int, str]) -> None:
        if not candidates or (reason := self._probe(job_id, [pb for _, pbs in candidates for pb in pbs])) is None:
            return
        if len(candidates) == 1:
            refused[candidates[0][0]] = reason
            return
        half = len(candidates) // 2
        self._bisect(job_id, candidates[:half], refused)
        self._bisect(job_id, candidates[half:], refused)

    def _probe(self, job_id: str, pbs: list[Any]) -> str | None:
        """Why the store refuses these writes as invalid, or None; never applies them."""
        never = wire.update(self._root.path("bulk_jobs", f"{job_id}/probes/never"), {"probe": True}, version=NEVER)
        probe = self._client.batch()
        wire.stage(probe, [*pbs, never])
        try:
            with translated("bulk job batch probe"):
                probe.commit()
        except StoreRefusedError as exc:
            return exc.reason
        except (ConflictError, NotFoundError):
            return None  # the unmeetable write (or a write's own precondition) failed: no invalid data
        raise RuntimeError("a probe commit was applied, which its last write forbids")


def _announcement(job_id: str, status: str) -> dict[str, Any]:
    """A final status is written with its pending announcement, so none is ever forgotten."""
    return job_delivery(job_id, JobStatus(status)).model_dump(mode="python")
