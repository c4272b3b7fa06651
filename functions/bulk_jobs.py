"""`bulk_jobs`: create bulk jobs and follow their progress."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import functions_framework
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, RootModel

from shared import logs, wiring
from shared.domain.models import BulkJobView, ItemError, JobType, Page
from shared.errors import FieldProblem, InvalidArgumentError
from shared.http import Api, Call, Download, QueryParams, Reply, canonical_id

api = Api("bulk_jobs", tag="Bulk jobs")
BASE = "/api/v1/pim/bulk-jobs"


class BulkJobInput(BaseModel):
    """The body as it is read: leniently typed, so that each problem is reported on its field
    (`payload[3]: expected a string`) by the domain's own shape check."""

    model_config = ConfigDict(extra="forbid")

    job_type: JobType
    payload: Any = None
    upload_id: str | None = None
    dry_run: bool = False


MAX_ITEMS = 100_000  # the default of MAX_JOB_ITEMS
STRING_PAYLOAD = "A string holding the JSON array is accepted too. Give either `payload` or `upload_id`."


class _JobRequest(BaseModel):
    """What every job type's body takes besides its payload."""

    model_config = ConfigDict(extra="forbid")

    upload_id: str | None = Field(
        None,
        description="Instead of `payload`: the id of an upload whose file has arrived (each upload makes one job).",
        json_schema_extra={"format": "uuid"},
    )
    dry_run: bool = Field(
        False,
        description="Run the whole job but write nothing (no product, audit event or issue): it ends COMPLETED "
        "with the per-item errors it would have had and a dry_run_report.",
    )


class ImportJobRequest(_JobRequest):
    job_type: Literal[JobType.BULK_IMPORT]
    payload: list[dict[str, Any]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="Product objects (fields of ProductFields; `title` required), optionally with `variants` "
        "(a list of variant bodies, created with the product). Each item is judged when the "
        f"job runs: an invalid one becomes a per-item error, not a refused job. {STRING_PAYLOAD}",
    )


class UpdateJobRequest(_JobRequest):
    job_type: Literal[JobType.BULK_UPDATE]
    payload: list[dict[str, Any]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="Objects holding the product `id` and the fields to change (ProductPatch; null clears a "
        "field), optionally `variants`: changes to existing variants, each naming the variant's `id`. Each item "
        f"is judged when the job runs. {STRING_PAYLOAD}",
    )


class DeleteJobRequest(_JobRequest):
    job_type: Literal[JobType.BULK_DELETE]
    payload: list[str] | None = Field(
        None,
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


class ErrorsQuery(PageQuery):
    format: Literal["json", "csv"] = Field(
        "json",
        description="`csv`: every failure at once as a CSV file (limit and cursor do not apply); for a CSV "
        "upload, the failed rows as sent plus `line`, `error_code`, `error_message`.",
    )


@api.route(
    BASE,
    "POST",
    write=True,
    body=CreateBulkJobRequest,
    response=BulkJobView,
    idempotent=True,
    summary="Create a bulk job (PENDING), processed asynchronously in batches",
    errors=(404, 409, 429),  # 429: the tenant's TENANT_MAX_RUNNING_JOBS are PENDING or PROCESSING
)
def create_bulk_job(call: Call) -> Reply:
    body = call.body(BulkJobInput)
    jobs = wiring.bulk_jobs(call.principal.scope)
    if ("payload" in body.model_fields_set) == (body.upload_id is not None):
        raise InvalidArgumentError(
            "give either `payload` or `upload_id`",
            [FieldProblem("payload", "give either `payload` or `upload_id`, not both or neither")],
        )
    if body.upload_id is not None:
        upload_id = canonical_id(body.upload_id, "upload_id")
        job = jobs.create_from_upload(call.principal, body.job_type, upload_id, dry_run=body.dry_run)
    else:
        job = jobs.create(call.principal, body.job_type, body.payload, dry_run=body.dry_run)
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
    f"{BASE}/<job_id>/cancel",
    "POST",
    write=True,
    response=BulkJobView,
    errors=(409,),
    summary="Cancel a PENDING or PROCESSING bulk job: batches not yet committed are skipped (409 when finished)",
)
def cancel_bulk_job(call: Call, job_id: str) -> Reply:
    return wiring.bulk_jobs(call.principal.scope).cancel(call.principal, job_id), 200


@api.route(
    f"{BASE}/<job_id>/errors",
    "GET",
    query=ErrorsQuery,
    response=Page[ItemError],
    files=("text/csv",),
    summary="Every per-item failure of a bulk job, in payload order (or as a CSV file)",
)
def list_bulk_job_errors(call: Call, job_id: str) -> Reply:
    q = call.query(ErrorsQuery)
    jobs = wiring.bulk_jobs(call.principal.scope)
    if q.format == "csv":
        return Download(jobs.errors_csv(job_id), "text/csv", f"bulk-job-{job_id}-errors.csv"), 200
    return jobs.errors(job_id, q.limit, q.cursor), 200


@functions_framework.http
def bulk_jobs(request: Any) -> Any:
    return api(request)
