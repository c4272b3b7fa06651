"""Staged uploads: files of items (CSV, JSON Lines, JSON) sent straight to Cloud Storage, from
which a bulk job is made.

A file is read twice and never whole: once by the planning step, streamed, which finds each
record's byte range and cuts the file into batches by count and bytes; then each batch reads only
its own range. Both reads use the same record readers here, so a batch finds exactly the records
the plan counted (a malformed one included, as a per-item error).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from shared import strict_json
from shared.domain.bulk import Malformed
from shared.domain.exports import csv_cell
from shared.domain.models import BatchRange, ItemError, JobType, UploadFormat
from shared.errors import InvalidJsonError

BOM = b"\xef\xbb\xbf"
ATTRIBUTES = "attributes."
ITEM_COLUMNS = (
    "id",
    "title",
    "sku",
    "description",
    "barcode",
    "category",
    "category_id",
    "brand",
    "brand_id",
    "status",
    "variants",
    "template_id",
)
# Columns whose cells hold JSON, as exports write them: a list of variants does not flatten into
# one row's columns the way the attributes map does.
JSON_COLUMNS = frozenset({"variants"})
# What the errors CSV adds to the original columns: ignored when such a file is uploaded again.
ERROR_COLUMNS = ("line", "error_code", "error_message")
# A line (JSON Lines) or a record (CSV) longer than this makes the file unreadable as a whole:
# nothing of that size can be an item (a product is at most 500,000 bytes).
MAX_RECORD_BYTES = 1024 * 1024


Filename = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class Upload(BaseModel):
    """An upload as stored: where its object lies and which job, if any, used it."""

    id: str
    tenant_id: str
    org_id: str
    filename: str
    format: UploadFormat
    object: str = Field(description="Path of the uploaded object in the uploads bucket.")
    max_bytes: int
    created_by: str
    created_at: datetime
    expires_at: datetime = Field(description="When the upload URL stops working.")
    job_id: str | None = None


class UploadView(BaseModel):
    """An upload as the API shows it."""

    id: str
    format: UploadFormat
    filename: str
    arrived: bool = Field(description="Whether the file's bytes are in storage.")
    bytes: int | None = Field(None, description="The file's size, once it has arrived.")
    max_bytes: int = Field(description="Largest file the upload URL accepts.")
    job_id: str | None = Field(None, description="The bulk job made from this upload (an upload is used once).")
    created_at: datetime
    expires_at: datetime = Field(description="When the upload URL stops working.")


class CreatedUpload(UploadView):
    """A new upload: send the file's bytes with `method` to `upload_url`, with exactly `headers`."""

    upload_url: str = Field(description="A V4 signed URL straight to Cloud Storage.")
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Send exactly these headers with the file.")


# --- reading records ---------------------------------------------------------------------------
class UnreadableFileError(Exception):
    """The file cannot be planned at all: its job fails before any item is written."""


@dataclass(frozen=True)
class Record:
    start: int  # byte offset of its first byte
    end: int  # byte offset just past it
    line: int | None  # the line it starts on (1-based), when the format has lines the client wrote
    value: Any  # CSV: the cells; JSON Lines: the line's bytes; or Malformed


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, each with its b"\\n" (the last one may lack it)."""
    rest = b""
    for chunk in chunks:
        if not chunk:
            continue
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if len(rest) > MAX_RECORD_BYTES:
            raise UnreadableFileError(f"a line is longer than {MAX_RECORD_BYTES:,} bytes")
        for part in parts:
            yield part + b"\n"
    if rest:
        yield rest


class _LineFeed:
    """Lines as text for the csv module, counting bytes and lines as it hands each one out: the
    csv reader pulls exactly the lines of one record per record, so the count after each record
    is that record's end."""

    def __init__(self, lines: Iterable[bytes], offset: int, first_line: int) -> None:
        self._lines = iter(lines)
        self.pos = offset
        self.line = first_line - 1
        self.bad: str | None = None

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        at_start = self.pos == 0
        self.pos += len(raw)
        self.line += 1
        if at_start and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.bad = self.bad or f"line {self.line} is not valid UTF-8"
            return raw.decode(errors="replace")


def csv_records(lines: Iterable[bytes], offset: int = 0, first_line: int = 1) -> Iterator[Record]:
    """RFC 4180 records (quoted fields may hold commas, quotes and line breaks; CRLF or LF), blank
    lines skipped. A record the csv module refuses, or one not in UTF-8, comes as Malformed."""
    feed = _LineFeed(lines, offset, first_line)
    reader = csv.reader(feed, strict=True)
    while True:
        start, line = feed.pos, feed.line + 1
        feed.bad = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(start, feed.pos, line, Malformed(f"malformed CSV: {exc}"))
            continue
        if feed.bad:
            yield Record(start, feed.pos, line, Malformed(feed.bad))
        elif cells:
            yield Record(start, feed.pos, line, cells)


def jsonl_records(lines: Iterable[bytes], offset: int = 0, first_line: int | None = 1) -> Iterator[Record]:
    """One record per line that is not blank; the line's bytes are parsed by the batch that reads it."""
    pos, line = offset, first_line
    for raw in lines:
        start = pos
        pos += len(raw)
        text = raw[len(BOM) :] if start == 0 and raw.startswith(BOM) else raw
        if text.strip():
            yield Record(start, pos, line, text)
        if line is not None:
            line += 1


# --- CSV columns -------------------------------------------------------------------------------
def allowed_columns(job_type: JobType) -> set[str]:
    if job_type is JobType.BULK_DELETE:
        return {"id"}
    return set(ITEM_COLUMNS) - ({"id"} if job_type is JobType.BULK_IMPORT else set())


def check_columns(job_type: JobType, columns: list[str]) -> None:
    """UnreadableFileError naming every column the job type does not know (or a required one missing)."""
    allowed = allowed_columns(job_type)
    takes_attributes = job_type is not JobType.BULK_DELETE
    unknown = [
        c
        for c in columns
        if c not in allowed
        and c not in ERROR_COLUMNS
        and not (takes_attributes and c.startswith(ATTRIBUTES) and c[len(ATTRIBUTES) :].strip())
    ]
    if unknown:
        names = ", ".join(json.dumps(c) for c in unknown[:20])
        raise UnreadableFileError(
            f"unknown column(s) for {job_type.value}: {names}; known: {', '.join(sorted(allowed))}"
            + (", attributes.<name>" if takes_attributes else "")
        )
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise UnreadableFileError(f"column(s) given more than once: {', '.join(json.dumps(c) for c in duplicates)}")
    if job_type is not JobType.BULK_IMPORT and "id" not in columns:
        raise UnreadableFileError(f"a {job_type.value} CSV needs an `id` column")


def csv_item(job_type: JobType, columns: list[str], cells: list[str]) -> Any:
    """The item a CSV row stands for: an empty cell is a field not given; `attributes.<name>`
    cells fill the attributes map; a `variants` cell holds a JSON array; a delete row is its `id`."""
    if len(cells) != len(columns):
        return Malformed(f"the row has {len(cells)} cell(s); the header has {len(columns)} column(s)")
    if job_type is JobType.BULK_DELETE:
        product_id = cells[columns.index("id")]
        return product_id if product_id else Malformed("the `id` cell is empty")
    item: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, value in zip(columns, cells, strict=True):
        if value == "" or name in ERROR_COLUMNS:
            continue
        if name.startswith(ATTRIBUTES):
            attributes[name[len(ATTRIBUTES) :].strip()] = value
        elif name in JSON_COLUMNS:
            try:
                item[name] = strict_json.loads(value, name)
            except InvalidJsonError as exc:
                return Malformed(f"the `{name}` cell is not valid JSON: {exc.message}"[:300])
        else:
            item[name] = value
    if attributes:
        item["attributes"] = attributes
    return item


def json_item(job_type: JobType, data: bytes) -> Any:
    """The item one JSON line holds: an object, or an id string for deletes."""
    try:
        value = strict_json.loads(data)
    except InvalidJsonError as exc:
        return Malformed(f"not valid JSON: {exc.message}"[:300])
    wanted, kind = (str, "a string (product id)") if job_type is JobType.BULK_DELETE else (dict, "an object")
    if not isinstance(value, wanted):
        return Malformed(f"expected {kind}, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# --- planning ----------------------------------------------------------------------------------
@dataclass
class FilePlan:
    """What planning found: filled in as its batches are taken."""

    columns: list[str] | None = None
    item_count: int = 0
    batch_count: int = 0


@dataclass(frozen=True)
class StoredObject:
    size: int
    generation: int


@dataclass(frozen=True)
class PlannedFile:
    """What a planned upload sets on its job when it starts."""

    item_count: int
    batch_count: int
    columns: list[str] | None
    items_object: str
    items_generation: int


def plan_batches(
    records: Iterable[Record], plan: FilePlan, max_items: int, batch_max_items: int, batch_max_bytes: int
) -> Iterator[BatchRange]:
    """Cut records into batches by count and bytes, yielding each as soon as it is closed, so the
    caller can store them as they come (memory holds one batch's numbers)."""
    first: Record | None = None
    last_end, count, first_index = 0, 0, 0
    for record in records:
        if first is not None and (count >= batch_max_items or record.end - first.start > batch_max_bytes):
            yield _batch(plan, first, last_end, first_index, count)
            first, count = None, 0
        if plan.item_count >= max_items:
            raise UnreadableFileError(f"the file holds more than {max_items:,} items, the most one job takes")
        if first is None:
            first, first_index = record, plan.item_count
        last_end = record.end
        count += 1
        plan.item_count += 1
    if first is not None:
        yield _batch(plan, first, last_end, first_index, count)
    if plan.item_count == 0:
        raise UnreadableFileError("the file holds no items")


def _batch(plan: FilePlan, first: Record, end: int, first_index: int, count: int) -> BatchRange:
    batch = BatchRange(
        index=plan.batch_count,
        first_item=first_index,
        item_count=count,
        start=first.start,
        end=end,
        first_line=first.line,
    )
    plan.batch_count += 1
    return batch


def item_records(fmt: UploadFormat, job_type: JobType, chunks: Iterable[bytes], plan: FilePlan) -> Iterator[Record]:
    """The item records of a whole file to plan (for JSON: of its JSON Lines working copy). For
    CSV the header is read first and its columns checked (UnreadableFileError before any item)."""
    lines = split_lines(chunks)
    if fmt is not UploadFormat.CSV:
        yield from jsonl_records(lines, first_line=1 if fmt is UploadFormat.JSONL else None)
        return
    records = csv_records(lines)
    header = next(records, None)
    if header is None:
        raise UnreadableFileError("the file is empty: a CSV needs a header row")
    if isinstance(header.value, Malformed):
        raise UnreadableFileError(f"the header row is unreadable: {header.value.reason}")
    plan.columns = [c.strip() for c in header.value]
    check_columns(job_type, plan.columns)
    yield from records


def batch_items(
    fmt: UploadFormat, job_type: JobType, data: bytes, batch: BatchRange, columns: list[str] | None
) -> tuple[list[Any], list[int | None]]:
    """The items of one batch from its byte range (malformed ones as Malformed), with the line
    each starts on."""
    lines = split_lines([data])
    if fmt is UploadFormat.CSV:
        found = list(csv_records(lines, batch.start, batch.first_line or 1))
        items = [
            r.value if isinstance(r.value, Malformed) else csv_item(job_type, columns or [], r.value) for r in found
        ]
    else:
        found = list(jsonl_records(lines, batch.start, batch.first_line))
        items = [json_item(job_type, r.value) for r in found]
    if len(items) != batch.item_count:
        raise ValueError(f"batch {batch.index} holds {len(items)} records; {batch.item_count} were planned")
    return items, [r.line for r in found]


# --- the errors CSV ---------------------------------------------------------------------------
def csv_row(cells: list[str]) -> bytes:
    """One RFC 4180 row (CRLF; a cell holding a comma, quote or line break quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


def error_rows(columns: list[str], data: bytes, batch: BatchRange, errors: list[ItemError]) -> Iterator[bytes]:
    """The failed rows of one batch of a CSV upload as the merchant wrote them (the original
    cells, untouched, so a fixed file imports as it reads), each followed by its line and error.
    A row that could not be read at all has its cells left empty."""
    shown = [c for c in columns if c not in ERROR_COLUMNS]
    rows: dict[int, dict[str, str]] = {}
    for offset, record in enumerate(csv_records(split_lines([data]), batch.start, batch.first_line or 1)):
        if isinstance(record.value, list) and len(record.value) == len(columns):
            rows[batch.first_item + offset] = dict(zip(columns, record.value, strict=True))
    for error in errors:
        cells = rows.get(error.index, {})
        yield csv_row([cells.get(c, "") for c in shown] + [str(error.line or ""), error.code, csv_cell(error.message)])


def error_header(columns: list[str]) -> bytes:
    return csv_row([c for c in columns if c not in ERROR_COLUMNS] + list(ERROR_COLUMNS))


GENERIC_ERROR_COLUMNS = ["index", "line", "id", "error_code", "error_message"]


def generic_error_row(error: ItemError) -> bytes:
    """A failure of a job whose items have no columns (an inline payload, JSON, JSON Lines)."""
    return csv_row([str(error.index), str(error.line or ""), csv_cell(error.id), error.code, csv_cell(error.message)])


class ChunkStream:
    """A readable file over an iterator of byte chunks (what a streaming JSON parser reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buffer):
            self._buffer, self._pos = next(self._chunks, b""), 0
        if size < 0:
            size = len(self._buffer)
        piece = self._buffer[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece


def json_array_lines(stream: Any) -> Iterator[bytes]:
    """The items of a JSON array, read as a stream, each as one compact JSON line: what a JSON
    upload is planned and read as. UnreadableFileError if the file is not a JSON array of items."""
    import ijson  # late: only planning a JSON upload needs it

    try:
        events = ijson.parse(stream, use_float=True)
        first = next(events, None)
        if first is None or first[1] != "start_array":
            raise UnreadableFileError("a JSON upload holds one array of items")
        for item in ijson.items(_Prepended(first, events), "item"):
            yield _compact(item)
    except ijson.JSONError as exc:
        raise UnreadableFileError(f"the file is not valid JSON: {' '.join(str(exc).split())}"[:300]) from exc


class _Prepended:
    """An ijson event stream with an event already taken put back in front."""

    def __init__(self, first: Any, rest: Iterator[Any]) -> None:
        self._first: Any = first
        self._rest = rest

    def __iter__(self) -> Iterator[Any]:
        yield self._first
        yield from self._rest


def _compact(item: Any) -> bytes:
    text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:  # an unpaired surrogate escape: kept escaped, refused per item
        return json.dumps(item, separators=(",", ":")).encode() + b"\n"
