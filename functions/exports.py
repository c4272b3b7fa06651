"""`exports`: export the whole catalog to a file in Cloud Storage, asynchronously."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, ConfigDict, Field

from shared import logs, wiring
from shared.domain.exports import ExportFormat, ExportView
from shared.domain.models import Page
from shared.http import Api, Call, QueryParams, Reply

api = Api("exports", tag="Exports")
BASE = "/api/v1/pim/exports"


class CreateExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = Field(ExportFormat.NDJSON, description="NDJSON (one product per line) or CSV.")


class ListExportsQuery(QueryParams):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = None


@api.route(
    BASE,
    "POST",
    write=True,
    body=CreateExportRequest,
    body_optional=True,
    response=ExportView,
    status=202,
    idempotent=True,
    summary="Queue an export of the whole catalog; the tenant is notified when it is done",
    errors=(429,),  # the tenant's TENANT_MAX_RUNNING_EXPORTS are QUEUED or RUNNING
)
def create_export(call: Call) -> Reply:
    body = call.body(CreateExportRequest)
    export = wiring.exports(call.principal.scope).request(call.principal, body.format)
    logs.bind(export_id=export.id)  # the request's own log lines join the export's
    return export, 202


@api.route(f"{BASE}/<export_id>", "GET", response=ExportView, summary="One export; a download URL once COMPLETED")
def get_export(call: Call, export_id: str) -> Reply:
    return wiring.exports(call.principal.scope).get(export_id), 200


@api.route(BASE, "GET", query=ListExportsQuery, response=Page[ExportView], summary="Exports, newest first")
def list_exports(call: Call) -> Reply:
    q = call.query(ListExportsQuery)
    return wiring.exports(call.principal.scope).list(q.limit, q.cursor), 200


@functions_framework.http
def exports(request: Any) -> Any:
    return api(request)
