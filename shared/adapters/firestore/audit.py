"""The audit log in Firestore: read-only here; events are written with the changes they record."""

from __future__ import annotations

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from shared.adapters.firestore.base import AUDIT_EVENTS, TenantRoot, newest_first, newest_first_page
from shared.adapters.google_errors import translated
from shared.domain.audit import AuditEvent
from shared.domain.models import Page
from shared.domain.tenancy import Scope


class FirestoreAuditStore:
    """Implements AuditStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._events = TenantRoot(client, scope).collection(AUDIT_EVENTS)

    def list_events(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page[AuditEvent]:
        query = self._events
        for field, value in sorted(filters.items()):
            query = query.where(filter=FieldFilter(field, "==", value))
        with translated("audit log"):
            return newest_first_page(AuditEvent, newest_first(query, limit, cursor), limit)
