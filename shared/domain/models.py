"""Shared field types, pages, and the models of bulk jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field, StringConstraints

# `\S`: a value that is only spaces is stripped to nothing; the pattern says so in the schema.
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"\S")]
LongText = Annotated[str, StringConstraints(max_length=50_000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"\S")]
AttributeValue = str | int | float | bool | None

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")


class JobType(StrEnum):
    BULK_IMPORT = "BULK_IMPORT"
    BULK_UPDATE = "BULK_UPDATE"
    BULK_DELETE = "BULK_DELETE"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ItemError(BaseModel):
    """Why one item of a bulk job was not applied."""

    index: int = Field(description="Position of the item in the submitted payload (0-based).")
    id: str | None = Field(None, description="Product id the item named, when it named one.")
    code: str
    message: str


class BatchRange(BaseModel):
    """One batch of a job: which items it holds and where they lie in the stored payload."""

    index: int
    first_item: int
    item_count: int
    start: int = Field(description="Byte offset of the batch's first item in the payload object.")
    end: int = Field(description="Byte offset just past the batch's last item.")


class BulkJobView(BaseModel):
    """A bulk job as the API shows it."""

    id: str
    tenant_id: str
    org_id: str
    job_type: JobType
    status: JobStatus
    payload: str | None = Field(
        description="The submitted payload as a JSON string. Omitted from lists when larger than "
        "the inline limit; GET /bulk-jobs/{id} always returns it."
    )
    payload_bytes: int
    total_items: int | None = Field(None, description="Set when processing starts.")
    processed_items: int = Field(0, description="Items applied successfully so far.")
    failed_items: int = Field(0, description="Items that could not be applied so far.")
    errors: list[ItemError] = Field(default_factory=list, description="The first per-item failures (at most 100).")
    failure_reason: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class BulkJob(BulkJobView):
    """A bulk job as stored: the view plus what the processor needs."""

    item_count: int
    batches: list[BatchRange]
    batches_done: int = 0
    rescues: int = Field(0, description="Times the watchdog re-queued the job's lost tasks.")
    payload_object: str = Field(description="Path of the payload object in the payload bucket.")

    def view(self, include_payload: bool = True) -> BulkJobView:
        view = BulkJobView.model_validate(self.model_dump(include=set(BulkJobView.model_fields)))
        if not include_payload:
            view.payload = None
        return view
