"""`bulk_jobs`: create bulk jobs and follow their progress."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import AliasChoices, BaseModel, Field

from shared import wiring
from shared.domain.models import BulkJobView, ItemError, JobType, Page
from shared.http import Api, Call, Reply

api = Api("bulk_jobs")
BASE = "/api/v1/pim/bulk-jobs"


class CreateBulkJobRequest(BaseModel):
    job_type: JobType
    payload: Any = Field(
        description="JSON array (or a string holding one): product objects for "
        "BULK_IMPORT/BULK_UPDATE (updates carry `id`), product ids for BULK_DELETE."
    )


class ListBulkJobsQuery(BaseModel):
    job_type: JobType = Field(
        JobType.BULK_UPDATE,
        validation_alias=AliasChoices("job_type", "type"),
        description="Defaults to BULK_UPDATE; `type` is accepted too.",
    )
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


@api.route(
    BASE,
    "POST",
    write=True,
    body=CreateBulkJobRequest,
    response=BulkJobView,
    summary="Create a bulk job (PENDING), processed asynchronously in batches",
)
def create_job(call: Call) -> Reply:
    body = call.body(CreateBulkJobRequest)
    return wiring.bulk_jobs(call.principal.scope).create(call.principal, body.job_type, body.payload), 200


@api.route(
    BASE, "GET", query=ListBulkJobsQuery, response=Page[BulkJobView], summary="List bulk jobs of one type, newest first"
)
def list_jobs(call: Call) -> Reply:
    q = call.query(ListBulkJobsQuery)
    return wiring.bulk_jobs(call.principal.scope).list(q.job_type, q.limit, q.cursor), 200


@api.route(f"{BASE}/<job_id>", "GET", response=BulkJobView, summary="One bulk job, with its payload")
def get_job(call: Call, job_id: str) -> Reply:
    return wiring.bulk_jobs(call.principal.scope).get(job_id), 200


@api.route(
    f"{BASE}/<job_id>/errors",
    "GET",
    query=PageQuery,
    response=Page[ItemError],
    summary="Every per-item failure of a bulk job, in payload order",
)
def list_job_errors(call: Call, job_id: str) -> Reply:
    q = call.query(PageQuery)
    return wiring.bulk_jobs(call.principal.scope).errors(job_id, q.limit, q.cursor), 200


@functions_framework.http
def bulk_jobs(request: Any) -> Any:
    return api(request)
