"""The small storage and messaging interfaces services depend on. Adapters implement them on
Firestore, Cloud Storage and Cloud Tasks; every store is created already bound to one tenant
and org, so a query that forgets the tenant cannot be written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from shared.domain.audit import AuditEvent
from shared.domain.bulk import BatchPlan
from shared.domain.catalog import Collection, Product, Write
from shared.domain.models import BatchRange, BulkJob, ItemError, JobType, Page
from shared.domain.quality import IssueChange, QualitySummary, ValidationIssue


class JobStore(Protocol):
    def create_job(self, job: BulkJob) -> None: ...

    def get_job(self, job_id: str) -> BulkJob:
        """The job, or NotFoundError."""
        ...

    def list_jobs(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJob]:
        """Jobs of one type, newest first."""
        ...

    def start_job(self, job_id: str, now: datetime) -> BulkJob:
        """Move a PENDING job to PROCESSING (setting total_items); any other state is left as is."""
        ...

    def batch_done(self, job_id: str, batch_index: int) -> bool: ...

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> dict[str, Any] | None:
        """Apply a batch's writes, its audit events, its completion marker and the job's counters
        in one atomic write; returns the new version of each document written. None, with nothing
        written, when the batch was committed before."""
        ...

    def finish_job_if_done(self, job_id: str, now: datetime) -> BulkJob:
        """Flip the job to COMPLETED/FAILED once, when every batch is committed."""
        ...

    def fail_job(self, job_id: str, reason: str, now: datetime) -> None: ...

    def job_errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        """Per-item failures in payload order."""
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


class AuditStore(Protocol):
    def list_events(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page[AuditEvent]: ...


class PayloadStore(Protocol):
    def put_new(self, path: str, data: bytes) -> None:
        """Write an object that must not exist yet."""
        ...

    def read(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The object's bytes, or the [start, end) range of them."""
        ...


class TaskQueue(Protocol):
    def enqueue(self, name: str, body: dict[str, Any]) -> None:
        """Queue one HTTP task for the worker; a name already queued is not queued again."""
        ...


class IssueStore(Protocol):
    def summaries(self, product_ids: set[str]) -> dict[str, QualitySummary]: ...

    def register(self, added: dict[str, set[str]], removed: dict[str, set[str]]) -> None:
        """Add and remove holder keys of SKUs in the SKU index."""
        ...

    def holders(self, skus: set[str]) -> dict[str, set[str]]:
        """Holder keys the SKU index has for each SKU (may include stale ones)."""
        ...

    def apply(self, changes: list[IssueChange], summaries: dict[str, QualitySummary | None]) -> None: ...

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
