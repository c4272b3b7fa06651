"""Reading the audit log: the tenant's events, newest first, optionally filtered."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.audit import AuditEvent, ResourceType
from shared.domain.models import Page
from shared.services.ports import AuditStore

MAX_PAGE = 100


@dataclass
class AuditLog:
    store: AuditStore

    def list(
        self,
        *,
        resource_type: ResourceType | None = None,
        resource_id: str | None = None,
        action: str | None = None,
        limit: int = MAX_PAGE,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        filters = {
            "resource_type": resource_type.value if resource_type else None,
            "resource_id": resource_id,
            "action": action,
        }
        return self.store.list_events({k: v for k, v in filters.items() if v}, min(limit, MAX_PAGE), cursor)
