"""The audit log in Firestore: read-only here; events are written with the changes they record."""

from __future__ import annotations

from google.cloud import firestore

from shared.adapters.firestore import queries
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
        with translated("audit log"):
            docs = newest_first(queries.AUDIT_EVENTS, self._events, limit, cursor, filters)
            return newest_first_page(AuditEvent, docs, limit)
