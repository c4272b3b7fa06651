"""Stalled jobs and exports across every tenant: collection-group queries on status and
updated_at (composite indexes in infra/firestore.indexes.json), read a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import queries
from shared.adapters.firestore.queries import IndexedQuery
from shared.adapters.google_errors import translated
from shared.domain.exports import DeliveryStatus, ExportStatus
from shared.domain.models import JobStatus
from shared.domain.tenancy import Scope
from shared.services.watchdog import Stalled

PAGE = 100


class FirestoreWatchdogStore:
    """`tenant_ids`, when given, limits what is found to those tenants (tests share one emulator)."""

    def __init__(self, client: firestore.Client, tenant_ids: set[str] | None = None) -> None:
        self._client = client
        self._tenant_ids = tenant_ids

    def stalled_jobs(self, before: datetime) -> Iterator[Stalled]:
        statuses = [JobStatus.PENDING.value, JobStatus.PROCESSING.value]
        return self._stalled(queries.STALLED_JOBS, {"status": statuses}, before)

    def stalled_exports(self, before: datetime) -> Iterator[Stalled]:
        statuses = [ExportStatus.QUEUED.value, ExportStatus.RUNNING.value]
        return self._stalled(queries.STALLED_EXPORTS, {"status": statuses}, before)

    def stalled_notifications(self, before: datetime) -> Iterator[Stalled]:
        pending = DeliveryStatus.PENDING.value
        return self._stalled(queries.STALLED_NOTIFICATIONS, {"notification.status": pending}, before)

    def stalled_job_notifications(self, before: datetime) -> Iterator[Stalled]:
        pending = DeliveryStatus.PENDING.value
        return self._stalled(queries.STALLED_JOB_NOTIFICATIONS, {"notification.status": pending}, before)

    def _stalled(self, declared: IndexedQuery, status: dict[str, Any], before: datetime) -> Iterator[Stalled]:
        """Oldest first, a page per query: a stream held open while records are rescued could
        outlive its deadline. Only the few fields needed are read, never payloads."""
        query = (
            declared.build(self._client, status, range_filter=("<", before))
            .select(["tenant_id", "org_id", "updated_at"])
            .limit(PAGE)
        )
        group = declared.collection_group
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
