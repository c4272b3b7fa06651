"""Pure rules of bulk jobs: the payload's shape, its split into batches, and what one batch does.

Splitting happens once, when the job is created: the payload is stored as one compact JSON array
whose byte offsets per batch are recorded on the job, so each batch task reads only its own slice
(no task re-parses the whole payload).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from shared.domain.models import (
    BatchRange,
    ItemError,
    JobStatus,
    JobType,
    Product,
    ProductFields,
    ProductPatch,
)
from shared.errors import FieldProblem, InvalidArgumentError, InvalidJsonError

MAX_SHAPE_PROBLEMS = 20
MAX_ERROR_MESSAGE = 300


def parse_payload(job_type: JobType, payload: Any, max_items: int) -> list[Any]:
    """Check the payload is a non-empty JSON array of the right kind of items for the job type.

    A payload sent as a string is parsed as JSON first (the guide: "the value must be valid JSON").
    What an item says (a missing title, an unknown id) is judged per item when the job runs.
    """
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise InvalidJsonError("payload is not valid JSON", [FieldProblem("payload", str(exc))]) from exc
    if not isinstance(payload, list):
        raise InvalidArgumentError(
            "payload must be a JSON array",
            [FieldProblem("payload", f"expected an array, got {_json_kind(payload)}")],
        )
    if not payload:
        raise InvalidArgumentError("payload is empty", [FieldProblem("payload", "expected at least one item")])
    if len(payload) > max_items:
        raise InvalidArgumentError(
            f"payload has {len(payload)} items; at most {max_items} per job",
            [FieldProblem("payload", f"at most {max_items} items")],
        )
    wanted, kind = (str, "a string (product id)") if job_type is JobType.BULK_DELETE else (dict, "an object")
    problems = [
        FieldProblem(f"payload[{i}]", f"expected {kind}, got {_json_kind(item)}")
        for i, item in enumerate(payload)
        if not isinstance(item, wanted)
    ]
    if problems:
        raise InvalidArgumentError(
            f"{len(problems)} payload item(s) are not {kind} as {job_type.value} requires",
            problems[:MAX_SHAPE_PROBLEMS],
        )
    return payload


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


@dataclass(frozen=True)
class SplitPayload:
    text: bytes
    batches: list[BatchRange]


def split_payload(items: list[Any], max_items: int, max_bytes: int) -> SplitPayload:
    """Serialise items as one compact JSON array and cut it into batches by count and bytes."""
    encoded = [json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() for item in items]
    batches: list[BatchRange] = []
    offset = 1  # past "["
    batch_start, batch_first, batch_bytes = offset, 0, 0
    for i, piece in enumerate(encoded):
        count = i - batch_first
        if count and (count >= max_items or batch_bytes + len(piece) > max_bytes):
            batches.append(
                BatchRange(
                    index=len(batches), first_item=batch_first, item_count=count, start=batch_start, end=offset - 1
                )
            )
            batch_start, batch_first, batch_bytes = offset, i, 0
        offset += len(piece) + 1  # the piece and the comma (or "]") after it
        batch_bytes += len(piece)
    batches.append(
        BatchRange(
            index=len(batches),
            first_item=batch_first,
            item_count=len(encoded) - batch_first,
            start=batch_start,
            end=offset - 1,
        )
    )
    return SplitPayload(text=b"[" + b",".join(encoded) + b"]", batches=batches)


def parse_batch_slice(data: bytes) -> list[Any]:
    """Items of one batch from its byte slice of the stored payload."""
    items: list[Any] = json.loads(b"[" + data + b"]")
    return items


def import_product_id(job_id: str, index: int) -> str:
    """Deterministic id of the product an import item creates: a redelivered batch rewrites the
    same documents instead of creating duplicates."""
    return str(uuid.uuid5(uuid.UUID(job_id), f"item-{index}"))


@dataclass(frozen=True)
class ProductWrite:
    kind: Literal["create", "update", "delete"]
    product_id: str
    data: dict[str, Any] = field(default_factory=dict)
    version: Any = None  # storage's opaque "last seen" token; the write fails if it moved


@dataclass
class BatchPlan:
    writes: list[ProductWrite]
    errors: list[ItemError]
    processed: int


@dataclass(frozen=True)
class JobContext:
    job_id: str
    tenant_id: str
    org_id: str
    actor_email: str
    now: datetime


def ids_to_read(job_type: JobType, items: list[Any]) -> list[str]:
    """Existing products a batch must read before it can plan (none for imports)."""
    if job_type is JobType.BULK_IMPORT:
        return []
    raw = items if job_type is JobType.BULK_DELETE else [i.get("id") for i in items]
    return sorted({i for i in raw if isinstance(i, str) and _is_uuid(i)})


def plan_batch(
    job_type: JobType,
    items: list[Any],
    first_index: int,
    existing: dict[str, tuple[Product, Any]],
    ctx: JobContext,
) -> BatchPlan:
    """Decide every write of one batch and every per-item failure; one bad item never sinks the rest.

    `existing` maps product id to (product, version) for the ids `ids_to_read` named. Several items
    touching one product within a batch are folded into one write.
    """
    planner = {
        JobType.BULK_IMPORT: _plan_import,
        JobType.BULK_UPDATE: _plan_update,
        JobType.BULK_DELETE: _plan_delete,
    }[job_type]
    return planner(items, first_index, existing, ctx)


def _plan_import(items: list[Any], first_index: int, _existing: Any, ctx: JobContext) -> BatchPlan:
    writes, errors = [], []
    for offset, item in enumerate(items):
        index = first_index + offset
        try:
            fields = ProductFields.model_validate(item)
        except ValidationError as exc:
            errors.append(ItemError(index=index, code="INVALID_ITEM", message=describe(exc)))
            continue
        product_id = import_product_id(ctx.job_id, index)
        product = Product(
            **fields.model_dump(),
            id=product_id,
            tenant_id=ctx.tenant_id,
            org_id=ctx.org_id,
            created_at=ctx.now,
            updated_at=ctx.now,
            created_by=ctx.actor_email,
            job_id=ctx.job_id,
        )
        writes.append(ProductWrite("create", product_id, product.model_dump(mode="python")))
    return BatchPlan(writes, errors, processed=len(writes))


def _plan_update(
    items: list[Any], first_index: int, existing: dict[str, tuple[Product, Any]], ctx: JobContext
) -> BatchPlan:
    changed: dict[str, dict[str, Any]] = {}
    errors: list[ItemError] = []
    processed = 0
    for offset, item in enumerate(items):
        index = first_index + offset
        body = dict(item)
        product_id = body.pop("id", None)
        if not isinstance(product_id, str) or not product_id:
            errors.append(
                ItemError(index=index, code="MISSING_ID", message="an update item needs the product `id` (a string)")
            )
            continue
        if product_id not in existing:
            errors.append(_not_found(index, product_id))
            continue
        try:
            patch = ProductPatch.model_validate(body)
        except ValidationError as exc:
            errors.append(ItemError(index=index, id=product_id, code="INVALID_ITEM", message=describe(exc)))
            continue
        changes = patch.changes()
        if changes.get("title", "") is None:
            errors.append(
                ItemError(index=index, id=product_id, code="INVALID_ITEM", message="title: cannot be cleared")
            )
            continue
        if not changes:
            errors.append(
                ItemError(
                    index=index,
                    id=product_id,
                    code="INVALID_ITEM",
                    message="an update item needs at least one field to change",
                )
            )
            continue
        changed.setdefault(product_id, {}).update(changes)
        processed += 1
    writes = [
        ProductWrite("update", pid, {**fields, "updated_at": ctx.now, "job_id": ctx.job_id}, existing[pid][1])
        for pid, fields in changed.items()
    ]
    return BatchPlan(writes, errors, processed)


def _plan_delete(
    items: list[Any], first_index: int, existing: dict[str, tuple[Product, Any]], ctx: JobContext
) -> BatchPlan:
    writes: list[ProductWrite] = []
    errors: list[ItemError] = []
    deleted: set[str] = set()
    for offset, product_id in enumerate(items):
        index = first_index + offset
        if product_id in deleted or product_id not in existing:
            errors.append(_not_found(index, product_id))
            continue
        deleted.add(product_id)
        writes.append(ProductWrite("delete", product_id, version=existing[product_id][1]))
    return BatchPlan(writes, errors, processed=len(writes))


def _not_found(index: int, product_id: str) -> ItemError:
    return ItemError(index=index, id=product_id[:128], code="NOT_FOUND", message="no such product")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def describe(exc: ValidationError) -> str:
    """One line naming each bad field, for per-item errors."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)[:MAX_ERROR_MESSAGE]


def problems_of(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Field problems of a request body, for the 400 error's `details`."""
    return [FieldProblem(prefix + ".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()]


def final_status(processed: int, failed: int) -> JobStatus:
    """COMPLETED once every item was attempted, unless every single one failed."""
    return JobStatus.FAILED if processed == 0 and failed > 0 else JobStatus.COMPLETED
