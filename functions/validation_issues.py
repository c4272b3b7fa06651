"""`validation_issues`: the tenant's unresolved data-quality findings, for triage."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import Field

from shared import wiring
from shared.domain.models import Code, Page
from shared.domain.quality import Severity, ValidationIssue
from shared.http import Api, Call, QueryParams, Reply

api = Api("validation_issues", tag="Validation issues")


class ListIssuesQuery(QueryParams):
    severity: Severity | None = None
    code: Code | None = Field(None, description="e.g. MISSING_DESCRIPTION, DUPLICATE_SKU, INVALID_BARCODE")
    product_id: Code | None = None
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


@api.route(
    "/api/v1/pim/validation-issues",
    "GET",
    query=ListIssuesQuery,
    response=Page[ValidationIssue],
    summary="Unresolved validation issues, newest first (100 a page)",
)
def list_validation_issues(call: Call) -> Reply:
    q = call.query(ListIssuesQuery)
    return wiring.quality(call.principal.scope).list(
        severity=q.severity, code=q.code, product_id=q.product_id, limit=q.limit, cursor=q.cursor
    ), 200


@functions_framework.http
def validation_issues(request: Any) -> Any:
    return api(request)
