"""Stalled jobs and exports across every tenant: collection-group queries on status and
updated_at (composite indexes in infra/firestore.indexes.json), read a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from shared.adapters.firestore.exports import EXPORTS
from shared.adapters.google_errors import translated
from shared.domain.exports import DeliveryStatus, ExportStatus
from shared.domain.models import JobStatus
from shared.domain.tenancy import Scope
from shared.services.watchdog import Stalled

BULK_JOBS = "bulk_jobs"
PAGE = 100


class FirestoreWatchdogStore:
    """`tenant_ids`, when given, limits what is found to those tenants (tests share one emulator)."""

    def __init__(self, client: firestore.Client, tenant_ids: set[str] | None = None) -> None:
        self._client = client
        self._tenant_ids = tenant_ids

    def stalled_jobs(self, before: datetime) -> Iterator[Stalled]:
        statuses = [JobStatus.PENDING.value, JobStatus.PROCESSING.value]
        return self._stalled(BULK_JOBS, FieldFilter("status", "in", statuses), before)

    def stalled_exports(self, before: datetime) -> Iterator[Stalled]:
        statuses = [ExportStatus.QUEUED.value, ExportStatus.RUNNING.value]
        return self._stalled(EXPORTS, FieldFilter("status", "in", statuses), before)

    def stalled_notifications(self, before: datetime) -> Iterator[Stalled]:
        return self._stalled(EXPORTS, FieldFilter("notification.status", "==", DeliveryStatus.PENDING.value), before)

    def stalled_job_notifications(self, before: datetime) -> Iterator[Stalled]:
        return self._stalled(BULK_JOBS, FieldFilter("notification.status", "==", DeliveryStatus.PENDING.value), before)

    def _stalled(self, group: str, status: FieldFilter, before: datetime) -> Iterator[Stalled]:
        """Oldest first, a page per query: a stream held open while records are rescued could
        outlive its deadline. Only the few fields needed are read, never payloads."""
        query = (
            self._client.collection_group(group)
            .where(filter=status)
            .where(filter=FieldFilter("updated_at", "<", before))
            .order_by("updated_at")
            .order_by("__name__")
            .select(["tenant_id", "org_id", "updated_at"])
            .limit(PAGE)
        )
        last: Any = None
        while True:
            with translated(group):
                page = list((query.start_after(last) if last else query).stream())
            for snap in page:
                data = snap.to_dict()
                if self._tenant_ids is None or data["tenant_id"] in self._tenant_ids:
                    yield Stalled(scope=Scope(data["tenant_id"], data["org_id"]), record_id=snap.id)
            if len(page) < PAGE:
                return
            last = page[-1]
