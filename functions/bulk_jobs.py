"""`bulk_jobs`: create bulk jobs and follow their progress."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import functions_framework
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, RootModel

from shared import logs, wiring
from shared.domain.models import BulkJobView, ItemError, JobType, Page
from shared.http import Api, Call, QueryParams, Reply

api = Api("bulk_jobs", tag="Bulk jobs")
BASE = "/api/v1/pim/bulk-jobs"


class BulkJobInput(BaseModel):
    """The body as it is read: leniently typed, so that each problem is reported on its field
    (`payload[3]: expected a string`) by the domain's own shape check."""

    model_config = ConfigDict(extra="forbid")

    job_type: JobType
    payload: Any


MAX_ITEMS = 100_000  # the default of MAX_JOB_ITEMS
STRING_PAYLOAD = "A string holding the JSON array is accepted too."


class ImportJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: Literal[JobType.BULK_IMPORT]
    payload: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="Product objects (fields of ProductFields; `title` required). Each item is judged when the "
        f"job runs: an invalid one becomes a per-item error, not a refused job. {STRING_PAYLOAD}",
    )


class UpdateJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: Literal[JobType.BULK_UPDATE]
    payload: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="Objects holding the product `id` and the fields to change (ProductPatch; null clears a "
        f"field). Each item is judged when the job runs. {STRING_PAYLOAD}",
    )


class DeleteJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: Literal[JobType.BULK_DELETE]
    payload: list[str] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description=f"Product ids; an unknown one becomes a per-item NOT_FOUND when the job runs. {STRING_PAYLOAD}",
    )


class CreateBulkJobRequest(
    RootModel[Annotated[ImportJobRequest | UpdateJobRequest | DeleteJobRequest, Field(discriminator="job_type")]]
):
    """The body as documented: the payload's shape depends on the job type."""


class ListBulkJobsQuery(QueryParams):
    job_type: JobType = Field(
        JobType.BULK_UPDATE,
        validation_alias=AliasChoices("job_type", "type"),
        description="Defaults to BULK_UPDATE; `type` is accepted too.",
    )
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


class PageQuery(QueryParams):
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
def create_bulk_job(call: Call) -> Reply:
    body = call.body(BulkJobInput)
    job = wiring.bulk_jobs(call.principal.scope).create(call.principal, body.job_type, body.payload)
    logs.bind(job_id=job.id)  # the request's own log lines join the job's
    return job, 200


@api.route(
    BASE, "GET", query=ListBulkJobsQuery, response=Page[BulkJobView], summary="List bulk jobs of one type, newest first"
)
def list_bulk_jobs(call: Call) -> Reply:
    q = call.query(ListBulkJobsQuery)
    return wiring.bulk_jobs(call.principal.scope).list(q.job_type, q.limit, q.cursor), 200


@api.route(f"{BASE}/<job_id>", "GET", response=BulkJobView, summary="One bulk job, with its payload")
def get_bulk_job(call: Call, job_id: str) -> Reply:
    return wiring.bulk_jobs(call.principal.scope).get(job_id), 200


@api.route(
    f"{BASE}/<job_id>/errors",
    "GET",
    query=PageQuery,
    response=Page[ItemError],
    summary="Every per-item failure of a bulk job, in payload order",
)
def list_bulk_job_errors(call: Call, job_id: str) -> Reply:
    q = call.query(PageQuery)
    return wiring.bulk_jobs(call.principal.scope).errors(job_id, q.limit, q.cursor), 200


@functions_framework.http
def bulk_jobs(request: Any) -> Any:
    return api(request)
