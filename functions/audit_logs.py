"""`audit_logs`: the immutable record of every change to PIM resources (read-only)."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import Field

from shared import wiring
from shared.domain.audit import AuditEvent, ResourceType
from shared.domain.models import Code, Page
from shared.http import Api, Call, QueryParams, Reply

api = Api("audit_logs", tag="Audit log")


class ListEventsQuery(QueryParams):
    resource_type: ResourceType | None = None
    resource_id: Code | None = None
    action: Code | None = Field(None, description="e.g. product.created")
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


@api.route(
    "/api/v1/pim/audit-logs",
    "GET",
    query=ListEventsQuery,
    response=Page[AuditEvent],
    summary="The tenant's most recent audit events (100 a page), newest first",
)
def list_audit_events(call: Call) -> Reply:
    q = call.query(ListEventsQuery)
    return wiring.audit_log(call.principal.scope).list(
        resource_type=q.resource_type, resource_id=q.resource_id, action=q.action, limit=q.limit, cursor=q.cursor
    ), 200


@functions_framework.http
def audit_logs(request: Any) -> Any:
    return api(request)
