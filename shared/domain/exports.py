"""Catalog exports: the export record, its life cycle, and how a product becomes a row.

An export is QUEUED when requested, RUNNING while an attempt streams the catalog into a staged
object, and COMPLETED once one attempt's staged object is claimed and published under the
export's own path (or FAILED after too many attempts). Products with an open ERROR validation
issue are left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from shared.domain.attributes import AttributeDefinition, ProductTemplate, typed_value
from shared.domain.catalog import Product
from shared.domain.deliveries import Delivery as Delivery  # re-exported: first defined here
from shared.domain.deliveries import DeliveryStatus as DeliveryStatus
from shared.domain.tenancy import Scope


class ExportFormat(StrEnum):
    NDJSON = "NDJSON"
    CSV = "CSV"

    @property
    def extension(self) -> str:
        return "ndjson" if self is ExportFormat.NDJSON else "csv"

    @property
    def content_type(self) -> str:
        return "application/x-ndjson" if self is ExportFormat.NDJSON else "text/csv; charset=utf-8"


class ExportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (ExportStatus.COMPLETED, ExportStatus.FAILED)


class ExportResult(BaseModel):
    """What the attempt that won wrote: its staged object and what it counted."""

    attempt_id: str
    staged_object: str
    row_count: int
    excluded_count: int
    size_bytes: int


class ExportView(BaseModel):
    """An export as the API shows it."""

    id: str
    tenant_id: str
    org_id: str
    status: ExportStatus
    format: ExportFormat
    bucket: str
    object_path: str = Field(description="Path of the export file in `bucket` (written once the export completes).")
    row_count: int | None = Field(None, description="Products written to the file.")
    excluded_count: int | None = Field(None, description="Products left out for an open ERROR validation issue.")
    size_bytes: int | None = None
    failure_reason: str | None = None
    notification: Delivery | None = None
    download_url: str | None = Field(None, description="Signed GET URL of the file, when COMPLETED.")
    download_url_expires_at: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class Export(ExportView):
    """An export as stored: the view plus what attempts need."""

    attempts: int = Field(0, description="Attempts started (a crashed attempt counts).")
    result: ExportResult | None = None
    rescues: int = Field(0, description="Times the watchdog re-queued a lost run.")
    notify_rescues: int = Field(0, description="Times the watchdog re-queued a lost notification attempt.")

    def finishing(self, status: ExportStatus, delivery: Delivery, now: datetime, reason: str | None) -> dict[str, Any]:
        """The changes that finish this export: its outcome, its counts, and its pending delivery."""
        changes: dict[str, Any] = {
            "status": status,
            "failure_reason": reason,
            "notification": delivery.model_dump(mode="python"),
            "completed_at": now,
            "updated_at": now,
        }
        if status is ExportStatus.COMPLETED and self.result:
            changes |= self.result.model_dump(include={"row_count", "excluded_count", "size_bytes"})
        return changes

    def view(self, download_url: str | None = None, expires_at: datetime | None = None) -> ExportView:
        view = ExportView.model_validate(self.model_dump(include=set(ExportView.model_fields)))
        view.download_url, view.download_url_expires_at = download_url, expires_at
        return view


def export_object_path(scope: Scope, export_id: str, fmt: ExportFormat) -> str:
    return f"exports/{scope.tenant_id}/{scope.org_id}/{export_id}.{fmt.extension}"


def staged_object_path(scope: Scope, export_id: str, attempt_id: str, fmt: ExportFormat) -> str:
    # Under tmp/ so a bucket lifecycle rule can sweep the staged files of crashed attempts.
    return f"tmp/exports/{scope.tenant_id}/{scope.org_id}/{export_id}/{attempt_id}.{fmt.extension}"


# --- rows ----------------------------------------------------------------------------------
# One CSV row per product; variants and attributes, being lists and maps, are JSON in one cell.
# Every cell passes through csv_cell (formula neutralisation).
CSV_COLUMNS = [
    "id",
    "title",
    "description",
    "sku",
    "barcode",
    "status",
    "category",
    "category_id",
    "brand",
    "brand_id",
    "data_quality_score",
    "attributes",
    "variants",
    "created_at",
    "updated_at",
]


# After the fixed columns: the product's template (id and slug) and completeness, then one column
# per attribute definition (`attributes.<slug>`, in slug order) holding the typed value.
TEMPLATE_COLUMNS = ["template_id", "template", "completeness"]


class ExportSchema(BaseModel):
    """The org's attribute definitions and templates, read once per export."""

    definitions: list[AttributeDefinition] = Field(default_factory=list)
    templates: list[ProductTemplate] = Field(default_factory=list)

    def slugs(self) -> list[str]:
        return sorted(d.slug for d in self.definitions)


class RowWriter:
    """Turns products into the bytes of one export file, one call per product."""

    def __init__(self, fmt: ExportFormat, schema: ExportSchema | None = None) -> None:
        self.format = fmt
        schema = schema or ExportSchema()
        self._definitions = {d.slug: d for d in schema.definitions}
        self._template_slugs = {t.id: t.slug for t in schema.templates}
        self._attribute_columns = schema.slugs()
        self._buffer = io.StringIO()
        # CRLF as RFC 4180 has it: the writer quotes a cell holding any line-terminator character,
        # so a lone CR inside a cell (which spreadsheets read as a line break) is quoted too.
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> bytes:
        if self.format is not ExportFormat.CSV:
            return b""
        return self._csv_line([*CSV_COLUMNS, *TEMPLATE_COLUMNS, *(f"attributes.{s}" for s in self._attribute_columns)])

    def row(self, product: Product) -> bytes:
        typed = {k: typed_value(self._definitions.get(k), v) for k, v in product.attributes.items()}
        template = self._template_slugs.get(product.template_id or "")
        if self.format is ExportFormat.NDJSON:
            # As GET /products/{id} shows it, with its template's slug and typed attribute values.
            data = {**product.model_dump(mode="json"), "attributes": typed, "template": template}
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        data = {**product.model_dump(mode="json"), "template": template}
        return self._csv_line(
            [
                csv_cell(json.dumps(data[c], separators=(",", ":"), ensure_ascii=False))
                if c in ("attributes", "variants")
                else csv_cell(data.get(c))
                for c in [*CSV_COLUMNS, *TEMPLATE_COLUMNS]
            ]
            + [_typed_cell(typed.get(slug)) for slug in self._attribute_columns]
        )

    def _csv_line(self, cells: list[str]) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(cells)
        return self._buffer.getvalue().encode()


def _typed_cell(value: object) -> str:
    """An `attributes.<slug>` cell: booleans as `true`/`false`, as JSON and the import read them."""
    return ("true" if value else "false") if isinstance(value, bool) else csv_cell(value)


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def csv_cell(value: object) -> str:
    """One CSV cell. Text that a spreadsheet would run as a formula gets a leading single quote,
    which spreadsheets show as text; numbers (and booleans) are written as they are, a negative
    number included: it is data, and what Python writes for a number is never a formula."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in FORMULA_TRIGGERS and not isinstance(value, int | float):  # bool is an int
        return "'" + text
    return text
