"""Models of the PIM resources the bulk operations act on, and of bulk jobs themselves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=50_000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
AttributeValue = str | int | float | bool | None


class JobType(StrEnum):
    BULK_IMPORT = "BULK_IMPORT"
    BULK_UPDATE = "BULK_UPDATE"
    BULK_DELETE = "BULK_DELETE"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ProductStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"


class ItemError(BaseModel):
    """Why one item of a bulk job was not applied."""

    index: int = Field(description="Position of the item in the submitted payload (0-based).")
    id: str | None = Field(None, description="Product id the item named, when it named one.")
    code: str
    message: str


class ProductFields(BaseModel):
    """The writable fields of a product: what an import item or a create request carries."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: LongText | None = None
    sku: Code | None = None
    barcode: Code | None = None
    category: Text | None = None
    category_id: Code | None = None
    brand: Text | None = None
    brand_id: Code | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    attributes: dict[Code, AttributeValue] = Field(default_factory=dict, max_length=200)


class ProductPatch(BaseModel):
    """The fields an update changes; fields left out stay as they are, null clears them."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: LongText | None = None
    sku: Code | None = None
    barcode: Code | None = None
    category: Text | None = None
    category_id: Code | None = None
    brand: Text | None = None
    brand_id: Code | None = None
    status: ProductStatus | None = None
    attributes: dict[Code, AttributeValue] | None = Field(None, max_length=200)

    def changes(self) -> dict[str, Any]:
        """The fields the request set, as storable values (title and status cannot be cleared)."""
        return self.model_dump(mode="json", exclude_unset=True)


class Product(ProductFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    tenant_id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    job_id: str | None = Field(None, description="Bulk job that last wrote the product, if any.")


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
    payload_object: str = Field(description="Path of the payload object in the payload bucket.")

    def view(self, include_payload: bool = True) -> BulkJobView:
        view = BulkJobView.model_validate(self.model_dump(include=set(BulkJobView.model_fields)))
        if not include_payload:
            view.payload = None
        return view


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")
