"""Shared field types, pages, and the models of bulk jobs.

The field types hold every value to what Firestore can store, so a value that passes them can
never make a write fail: text is valid Unicode, integers fit 64 bits, numbers are finite,
attribute names are not reserved, and ids that become document ids are UUIDs. Single requests and
bulk items are validated by the same models, so both refuse the same values, field by field.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, StringConstraints, WithJsonSchema

from shared.domain.deliveries import Delivery
from shared.domain.tenancy import Scope


def storable_text(value: str) -> str:
    """`value` with anything UTF-8 cannot hold replaced, for text we record rather than judge."""
    return value.encode(errors="replace").decode()


# JSON can carry an unpaired surrogate ("\ud800"), which no UTF-8 store can hold; constrained
# strings refuse it themselves (pydantic's `string_unicode`).
# `\S`: a value that is only spaces is stripped to nothing; the pattern says so in the schema.
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"\S")]
LongText = Annotated[str, StringConstraints(max_length=50_000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"\S")]

# --- ids of other resources, stored on a record and read back as document ids -----------------
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def reference_id(value: str) -> str:
    """An id as every resource gets it (str(uuid4())): a UUID in canonical form, in lowercase.
    Any case is accepted, since UUIDs are case-insensitive; the stored form is the lowercase one,
    which is what the referenced document's id and the in-use queries compare with."""
    if not _UUID.fullmatch(value):
        raise ValueError("not an id (a UUID such as 0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c)")
    return value.lower()


ReferenceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(reference_id),
    WithJsonSchema({"type": "string", "format": "uuid"}),
]

# --- attributes: a flat map of custom data -----------------------------------------------------
MAX_ATTRIBUTE_NAME = 128
# Whole in every single-field index: production indexes only the first 1,500 bytes of a string,
# so a longer value would make an exact-match query on it unreliable.
MAX_ATTRIBUTE_TEXT_BYTES = 1_500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_RESERVED_NAME = re.compile(r"__.*__", re.DOTALL)  # Firestore's own field names (__name__, ...)
# Control, invisible-formatting, surrogate and line/paragraph-separator characters.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def attribute_name(value: str) -> str:
    if _RESERVED_NAME.fullmatch(value):
        raise ValueError("names of the form __name__ are reserved")
    if not (value.isascii() and value.isprintable()) and any(unicodedata.category(c) in _UNPRINTABLE for c in value):
        raise ValueError("a name holds only printable characters (no control or invisible characters)")
    return value


def attribute_value(value: Any) -> str | int | float | bool | None:
    """A scalar Firestore stores exactly: nesting is refused, so a map of attributes stays flat."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("integer out of range (-2^63 to 2^63-1); send a larger number as text")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if isinstance(value, str):
        try:
            size = len(value.encode())
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text (it holds an unpaired surrogate)") from None
        if size > MAX_ATTRIBUTE_TEXT_BYTES:
            raise ValueError(f"text over {MAX_ATTRIBUTE_TEXT_BYTES:,} bytes (UTF-8)")
        return value
    raise ValueError("must be text, a number, a boolean or null (attributes are flat)")


AttributeName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ATTRIBUTE_NAME),
    AfterValidator(attribute_name),
]
AttributeValue = Annotated[
    Any,
    PlainValidator(attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": MAX_ATTRIBUTE_TEXT_BYTES,
                    "description": f"at most {MAX_ATTRIBUTE_TEXT_BYTES:,} bytes (UTF-8)",
                },
                {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
# What stored records hold, read as it is: a record may predate today's input rules, and refusing
# to read it would break every page and export it is on.
StoredAttributeValue = str | int | float | bool | None

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
    CANCELLED = "CANCELLED"  # stopped by POST /bulk-jobs/{id}/cancel; what was committed stays

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.PROCESSING)


class UploadFormat(StrEnum):
    CSV = "CSV"
    JSONL = "JSONL"
    JSON = "JSON"

    @property
    def content_type(self) -> str:
        return {"CSV": "text/csv", "JSONL": "application/jsonl", "JSON": "application/json"}[self.value]


class UploadSource(BaseModel):
    """Where an uploaded job's items come from (shown on the job)."""

    upload_id: str
    format: UploadFormat
    filename: str
    bytes: int


class ItemError(BaseModel):
    """Why one item of a bulk job was not applied."""

    index: int = Field(description="Position of the item in the submitted payload or file (0-based).")
    line: int | None = Field(
        None, description="Line of the uploaded file the item starts on (CSV and JSON Lines uploads)."
    )
    # The id and the message can quote what the item sent; they are recorded, so always storable.
    id: Annotated[str, AfterValidator(storable_text)] | None = Field(
        None, description="Product id the item named, when it named one."
    )
    code: str
    message: Annotated[str, AfterValidator(storable_text)]


class BatchRange(BaseModel):
    """One batch of a job: which items it holds and where they lie in the stored payload."""

    index: int
    first_item: int
    item_count: int
    start: int = Field(description="Byte offset of the batch's first item in the payload object.")
    end: int = Field(description="Byte offset just past the batch's last item.")
    first_line: int | None = Field(None, description="Line of an uploaded file the batch's first item starts on.")


class DryRunReport(BaseModel):
    """What a dry run found the job would do."""

    creates: int = Field(0, description="Products it would create.")
    updates: int = Field(0, description="Products it would change.")
    deletes: int = Field(0, description="Products it would delete.")
    issues: dict[str, int] = Field(
        default_factory=dict, description="Validation issues the written products would raise, by code."
    )


class BatchPart(BaseModel):
    """A leading part of a batch committed on its own, when the whole batch would not fit one
    commit (500 writes, 10 MiB). Parts are numbered from 0 and each starts where the one before
    ended; the batch's own marker, written with its last part, sums them all."""

    part: int
    first_item: int
    end_item: int = Field(description="Just past the part's last item.")
    processed: int
    failed: int
    errors: list[ItemError] = Field(default_factory=list)


class BulkJobView(BaseModel):
    """A bulk job as the API shows it."""

    id: str
    tenant_id: str
    org_id: str
    job_type: JobType
    status: JobStatus
    payload: str | None = Field(
        description="The submitted payload as a JSON string. Omitted from lists when larger than "
        "the inline limit; GET /bulk-jobs/{id} always returns it. Null for a job made from an upload."
    )
    payload_bytes: int = Field(description="Size of the submitted payload (0 for a job made from an upload).")
    source: UploadSource | None = Field(None, description="The upload a job was made from (null: an inline payload).")
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
    dry_run: bool = Field(False, description="Judged in full, nothing written: see dry_run_report.")
    dry_run_report: DryRunReport | None = Field(None, description="A dry run's findings, once it is COMPLETED.")
    notification: Delivery | None = Field(None, description="How the tenant is told of the job's end, once it ended.")


class BulkJob(BulkJobView):
    """A bulk job as stored: the view plus what the processor needs."""

    item_count: int
    batches: list[BatchRange]
    batches_done: int = 0
    rescues: int = Field(0, description="Times the watchdog re-queued the job's lost tasks.")
    notify_rescues: int = Field(0, description="Times the watchdog re-queued the job's lost announcement.")
    payload_object: str | None = Field(None, description="Path of the payload object in the payload bucket.")
    # A job made from an upload: its items' object (the upload itself, or for JSON its JSON Lines
    # working copy) at one generation, the CSV header, and how many batches planning made (their
    # ranges are stored beside the job, not in it).
    items_object: str | None = None
    items_generation: int | None = None
    columns: list[str] | None = None
    planned_batches: int | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.org_id)

    @property
    def batch_count(self) -> int:
        return self.planned_batches if self.planned_batches is not None else len(self.batches)

    def view(self, include_payload: bool = True) -> BulkJobView:
        view = BulkJobView.model_validate(self.model_dump(include=set(BulkJobView.model_fields)))
        if not include_payload:
            view.payload = None
        return view
