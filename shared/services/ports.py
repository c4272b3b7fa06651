"""The small storage and messaging interfaces services depend on. Adapters implement them on
Firestore, Cloud Storage and Cloud Tasks; every store is created already bound to one tenant
and org, so a query that forgets the tenant cannot be written."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.domain.audit import AuditEvent
from shared.domain.bulk import BatchPlan
from shared.domain.catalog import Collection, Product, Write
from shared.domain.dry_run import DryRunBatch
from shared.domain.exports import Delivery, Export, ExportResult, ExportStatus
from shared.domain.idempotency import KeyRecord, StoredResponse
from shared.domain.models import BatchPart, BatchRange, BulkJob, ItemError, JobType, Page
from shared.domain.notifications import NotificationSettings
from shared.domain.quality import IssueChange, QualitySummary, ValidationIssue
from shared.domain.tenancy import RunningLimit
from shared.domain.uploads import PlannedFile, StoredObject, Upload


class JobStore(Protocol):
    def create_job(self, job: BulkJob, upload_id: str | None = None, limit: RunningLimit | None = None) -> None:
        """Store a new job; with `upload_id`, claim that upload for it in the same write
        (NotFoundError if there is no such upload, ConflictError if a job used it already); with
        `limit`, take one of the tenant's running-job slots in it too (TooManyRequestsError if
        the tenant's PENDING and PROCESSING jobs fill them)."""
        ...

    def get_job(self, job_id: str) -> BulkJob:
        """The job, or NotFoundError."""
        ...

    def list_jobs(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJob]:
        """Jobs of one type, newest first."""
        ...

    def with_progress(self, job: BulkJob) -> BulkJob:
        """The job with its counts as its batches' markers have them now (batches never write the
        job document; a COMPLETED job's stored counts are final)."""
        ...

    def first_write_at(self, now: datetime) -> datetime:
        """When the tenant's first job started writing (the start of its ramp); `now` if none had."""
        ...

    def start_job(self, job_id: str, now: datetime, planned: PlannedFile | None = None) -> BulkJob:
        """Move a PENDING job to PROCESSING (setting total_items, and what planning its upload
        found); any other state is left as is."""
        ...

    def save_plan(self, job_id: str, batches: Iterable[BatchRange]) -> None:
        """Store an uploaded job's batch ranges as they come (never all in one document)."""
        ...

    def batch_range(self, job: BulkJob, index: int) -> BatchRange:
        """One batch of the job (from the job, or from its stored plan)."""
        ...

    def error_batches(self, job_id: str) -> Iterator[tuple[int, list[ItemError]]]:
        """Each batch with failures, in order, with its failures; streamed."""
        ...

    def batch_done(self, job_id: str, batch_index: int) -> bool: ...

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> dict[str, Any] | None:
        """Apply a batch's writes, its audit events and its markers (which carry its counts) in one
        atomic write; returns the new version of each document written. None, with nothing
        written, when the batch was committed before."""
        ...

    def commit_part(
        self, job_id: str, batch: BatchRange, plan: BatchPlan, end_item: int, now: datetime
    ) -> dict[str, Any] | None:
        """Apply a leading part of a batch too large for one commit (the plan's items up to
        `end_item`, after `plan.earlier`) with its part marker, atomically; as commit_batch, but
        the batch stays to be done. ConflictError if another delivery committed that part."""
        ...

    def batch_parts(self, job_id: str, batch_index: int) -> list[BatchPart]:
        """The parts of the batch committed so far, in order (a batch committed whole has one)."""
        ...

    def refused_writes(self, job_id: str, plan: BatchPlan) -> dict[int, str]:
        """The positions of the plan's writes (with their audit events) the store refuses as
        invalid, each with the store's reason; nothing is written to find them."""
        ...

    def mark_evaluated(self, job_id: str, batch_index: int) -> None:
        """The batch's products have been judged (or there was nothing to judge); idempotent."""
        ...

    def finish_job_if_done(
        self,
        job_id: str,
        now: datetime,
        outcome: Callable[[BulkJob], dict[str, Any]] | None = None,
        once_evaluated: bool = True,
    ) -> BulkJob:
        """Flip the job to COMPLETED/FAILED once, when every batch is evaluated (or, with
        `once_evaluated` False, committed); `outcome` adds (or overrides) fields of that final
        write, given the job as read just before it."""
        ...

    def save_delivery(self, job_id: str, delivery: Delivery, now: datetime) -> None:
        """Record how the announcement of the job's end went."""
        ...

    def claim_notify_rescue(self, job_id: str, stalled_before: datetime, now: datetime) -> BulkJob | None:
        """Count one more rescue of the job's announcement if it is still PENDING and silent since
        before `stalled_before` (its next attempt due before then too); None otherwise."""
        ...

    def fail_delivery(self, job_id: str, reason: str, now: datetime) -> None:
        """Record the job's PENDING announcement FAILED with `reason`."""
        ...

    def save_dry_run(self, job_id: str, batch_index: int, judged: DryRunBatch) -> None:
        """Keep a dry-run batch's findings (before its marker is committed)."""
        ...

    def dry_run_batches(self, job_id: str) -> list[DryRunBatch]: ...

    def fail_job(self, job_id: str, reason: str, now: datetime) -> None:
        """Mark an unfinished job FAILED with `reason`; a finished one is left as it is."""
        ...

    def cancel_job(self, job_id: str, audit: Callable[[BulkJob], AuditEvent], now: datetime) -> BulkJob:
        """Move a PENDING/PROCESSING job to CANCELLED, with the audit event `audit` makes of it, and
        skip its uncommitted batches (a batch commit racing it is either counted or rejected
        whole); returns the job with its final counters. ConflictError when it is finished."""
        ...

    def claim_rescue(self, job_id: str, stalled_before: datetime, now: datetime) -> BulkJob | None:
        """Count one more rescue of an unfinished job silent since before `stalled_before`, and mark
        it touched now; returns the job as it then is. None when it is finished or moved since (a
        batch committed, or another check claimed it first)."""
        ...

    def done_batches(self, job_id: str) -> set[int]:
        """Indexes of the job's committed batches (those with a marker)."""
        ...

    def job_errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        """Per-item failures in payload order."""
        ...


class IdempotencyStore(Protocol):
    def claim(self, key_id: str, record: KeyRecord) -> tuple[KeyRecord, Any] | None:
        """Create the key's record; None when created, else the record found and its version."""
        ...

    def take_over(self, key_id: str, version: Any, record: KeyRecord) -> bool:
        """Replace the record if it is still at `version`; whether it was."""
        ...

    def complete(self, key_id: str, response: StoredResponse) -> None:
        """Store the answer on the key's record (DONE)."""
        ...

    def release(self, key_id: str) -> None:
        """Forget the key: its request failed and may be sent again."""
        ...


class CatalogStore(Protocol):
    def get(self, collection: Collection, doc_id: str) -> tuple[Any, Any]:
        """The resource and its opaque version, or NotFoundError."""
        ...

    def get_many(self, collection: Collection, doc_ids: list[str]) -> dict[str, tuple[Any, Any]]: ...

    def exists(self, collection: Collection, doc_id: str) -> bool: ...

    def list_products(self, limit: int, cursor: str | None) -> Page[Product]: ...

    def list_by_name(self, collection: Collection, limit: int, cursor: str | None) -> Page[Any]: ...

    def is_referenced(self, collection: Collection, field: str, value: str) -> bool: ...

    def commit(self, writes: list[Write], events: list[AuditEvent]) -> None:
        """Apply writes and their audit events atomically."""
        ...

    def all_of(self, collection: Collection) -> list[Any]:
        """Every document of a small collection (attribute definitions), in id order."""
        ...

    def is_listed(self, collection: Collection, field: str, value: str) -> bool:
        """Whether any document's array `field` holds `value`."""
        ...

    def has_attribute(self, slug: str) -> bool:
        """Whether any product has a value for the attribute."""
        ...

    def products_from(self, after: str | None, template_id: str | None = None) -> Iterator[tuple[Product, Any]]:
        """The products in id order after `after` (those of one template, when given), each with
        its version, streamed by one query: read as far as needed, then closed."""
        ...


class AuditStore(Protocol):
    def list_events(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page[AuditEvent]: ...


class PayloadStore(Protocol):
    def put_new(self, path: str, data: bytes) -> None:
        """Write an object that must not exist yet."""
        ...

    def read(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The object's bytes, or the [start, end) range of them."""
        ...


class UploadStore(Protocol):
    def create(self, upload: Upload) -> None: ...

    def get(self, upload_id: str) -> Upload:
        """The upload, or NotFoundError."""
        ...


class UploadFiles(Protocol):
    def upload_url(self, path: str, content_type: str, max_bytes: int, ttl: timedelta) -> tuple[str, dict[str, str]]:
        """A signed PUT URL for the object and the headers a client must send with it."""
        ...

    def stat(self, path: str) -> StoredObject | None:
        """The object's size and generation, or None before it has arrived."""
        ...

    def chunks(self, path: str, generation: int) -> Iterator[bytes]:
        """The whole object at that generation, streamed."""
        ...

    def read(self, path: str, generation: int, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object at that generation."""
        ...

    def write(self, path: str, chunks: Iterable[bytes]) -> int:
        """Stream `chunks` into a new object (visible once whole); returns its generation."""
        ...


class TaskQueue(Protocol):
    def enqueue(self, name: str, body: dict[str, Any], not_before: datetime | None = None) -> None:
        """Queue one HTTP task for the worker, to run no sooner than `not_before`; a name already
        queued is not queued again."""
        ...


class IssueStore(Protocol):
    def summaries(self, product_ids: set[str]) -> dict[str, QualitySummary]: ...

    def register(self, added: dict[str, set[str]], removed: dict[str, set[str]]) -> None:
        """Add and remove holder keys of SKUs in the SKU index."""
        ...

    def holders(self, skus: set[str]) -> dict[str, set[str]]:
        """Holder keys the SKU index has for each SKU (may include stale ones)."""
        ...

    def apply(
        self,
        changes: list[IssueChange],
        summaries: dict[str, QualitySummary | None],
        new: frozenset[str] = frozenset(),
        previous: Mapping[str, QualitySummary] | None = None,
    ) -> None:
        """Write issue records and summaries. Those of the `new` products are created (the write
        assumes they have none yet), all in one commit: ConflictError, and nothing written, if
        any of them exists already or they do not fit in one commit. Every other summary is
        written only if it is still the one in `previous` (as `summaries` read it; absent: only
        if there is none), with what it moves of the catalog counters: ConflictError if one moved."""
        ...

    def versions(self, product_ids: set[str]) -> dict[str, Any]:
        """The current version of each existing product."""
        ...

    def products_by_id(self, after: str | None) -> Iterator[Product]:
        """Every product in id order, from just after `after`, streamed."""
        ...

    def summary_ids(self, after: str | None) -> Iterator[str]:
        """Every evaluated product id in id order, from just after `after`, streamed."""
        ...

    def list_issues(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page[ValidationIssue]: ...


class ExportStore(Protocol):
    def create(self, export: Export, limit: RunningLimit | None = None) -> None:
        """Store a new export; with `limit`, taking one of the tenant's running-export slots in the
        same write (TooManyRequestsError if its QUEUED and RUNNING exports fill them)."""
        ...

    def get(self, export_id: str) -> Export:
        """The export, or NotFoundError."""
        ...

    def list(self, limit: int, cursor: str | None) -> Page[Export]:
        """Exports, newest first."""
        ...

    def begin(self, export_id: str, now: datetime) -> Export:
        """Count one more attempt and move a QUEUED export to RUNNING; a finished one is returned as is."""
        ...

    def claim(self, export_id: str, result: ExportResult) -> Export:
        """Record `result` as the export's, unless an attempt recorded one first; returns the record."""
        ...

    def finish(
        self, export_id: str, status: ExportStatus, delivery: Delivery, now: datetime, reason: str | None
    ) -> Export:
        """Move an unfinished export to COMPLETED or FAILED with its pending delivery, once."""
        ...

    def save_delivery(self, export_id: str, delivery: Delivery, now: datetime) -> None: ...

    def claim_rescue(self, export_id: str, stalled_before: datetime, now: datetime) -> Export | None:
        """Count one more rescue of a QUEUED or RUNNING export silent since before `stalled_before`;
        None when it is finished or moved since (or another check claimed it first)."""
        ...

    def claim_notify_rescue(self, export_id: str, stalled_before: datetime, now: datetime) -> Export | None:
        """Count one more rescue of a PENDING notification whose next attempt was due before
        `stalled_before`; None when it settled or moved since."""
        ...

    def fail_delivery(self, export_id: str, reason: str, now: datetime) -> None:
        """Record a still PENDING notification as FAILED with `reason`."""
        ...

    def products(self) -> Iterator[tuple[Product, bool]]:
        """Every product in id order, streamed, each with whether an open ERROR issue blocks its export."""
        ...


class NotificationSettingsStore(Protocol):
    def get(self) -> NotificationSettings | None: ...

    def put(self, settings: NotificationSettings) -> None: ...


class ExportFiles(Protocol):
    bucket: str

    def write(self, path: str, content_type: str, chunks: Iterable[bytes]) -> int:
        """Stream `chunks` into a new object (visible only once whole); returns its size."""
        ...

    def publish(self, staged: str, path: str, filename: str) -> None:
        """Copy a staged object to its final path (a repeat copies the same bytes again)."""
        ...

    def delete(self, path: str) -> None:
        """Delete the object if it exists."""
        ...

    def signed_url(self, path: str, ttl: timedelta) -> str:
        """A GET URL for the object that works without credentials until `ttl` has passed."""
        ...


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST `body`; DeliveryError unless the receiver answers 2xx."""
        ...


class Mailer(Protocol):
    def send(self, to: list[str], subject: str, text: str, message_id: str) -> None:
        """Hand one plain-text message to the mail server; DeliveryError when it refuses."""
        ...


class StatsStore(Protocol):
    def counters(self) -> dict[tuple[str, ...], int]:
        """The catalog counters, summed over their shards (counter path -> count)."""
        ...

    def recent_jobs(self, since: datetime, limit: int) -> list[tuple[str, str]]:
        """(job_type, status) of the newest `limit` bulk jobs created from `since` on."""
        ...

    def reconcile(self, as_of: datetime) -> dict[tuple[str, ...], int] | None:
        """Recount the catalog as it was at `as_of` (within the last hour) and add the difference
        to the counters; returns it (None: another reconciliation committed since that moment, so
        nothing was written)."""
        ...
