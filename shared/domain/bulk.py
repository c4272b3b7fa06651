"""Pure rules of bulk jobs: the payload's shape, its split into batches, and what one batch does.

Splitting happens once, when the job is created: the payload is stored as one compact JSON array
whose byte offsets per batch are recorded on the job, so each batch task reads only its own slice
(no task re-parses the whole payload).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared import strict_json
from shared.domain.attributes import CatalogSchema
from shared.domain.audit import AuditEvent, ChangeContext
from shared.domain.catalog import (
    Change,
    ImportItem,
    Product,
    References,
    UpdateItem,
    Variant,
    Write,
    create_product,
    delete_product,
    patched_variants,
    product_size_problem,
    referenced_ids,
    stored_product,
    update_product,
)
from shared.domain.models import BatchPart, BatchRange, ItemError, JobStatus, JobType
from shared.domain.quality import FirstRecords, first_records
from shared.domain.sizes import (
    COMMIT_BYTES_BUDGET,
    COMMIT_BYTES_RESERVE,
    DOCUMENT_OVERHEAD,
    MAX_COMMIT_WRITES,
    NAME_ALLOWANCE,
    document_size,
    fields_change_size,
    value_size,
)
from shared.errors import FieldProblem, InvalidArgumentError

MAX_SHAPE_PROBLEMS = 20
MAX_ERROR_MESSAGE = 300


def parse_payload(job_type: JobType, payload: Any, max_items: int) -> list[Any]:
    """Check the payload is a non-empty JSON array of the right kind of items for the job type.

    A payload sent as a string is parsed as JSON first (the guide: "the value must be valid JSON").
    What an item says (a missing title, an unknown id) is judged per item when the job runs.
    """
    if isinstance(payload, str):
        payload = strict_json.loads(payload, "payload")
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
    encoded = [_compact(item) for item in items]
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


def _compact(item: Any) -> bytes:
    text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # An unpaired surrogate escape: kept escaped, so the stored payload stays UTF-8 and the
        # item is refused on its own when its batch runs, like any other bad value.
        return json.dumps(item, separators=(",", ":")).encode()


def parse_batch_slice(data: bytes) -> list[Any]:
    """Items of one batch from its byte slice of the stored payload."""
    items: list[Any] = json.loads(b"[" + data + b"]")
    return items


def import_product_id(job_id: str, index: int) -> str:
    """Deterministic id of the product an import item creates: a redelivered batch rewrites the
    same documents instead of creating duplicates."""
    return str(uuid.uuid5(uuid.UUID(job_id), f"item-{index}"))


def item_event_id(job_id: str, index: int) -> str:
    """Deterministic id of the audit event of an item's change."""
    return str(uuid.uuid5(uuid.UUID(job_id), f"event-{index}"))


@dataclass
class BatchPlan:
    writes: list[Write]
    events: list[AuditEvent]
    errors: list[ItemError]
    processed: int
    # The payload indices of the items each write carries (several when updates fold into one).
    items: list[list[int]] = field(default_factory=list)
    # The line each item of an uploaded file starts on, by index: what its failure names.
    lines: dict[int, int] = field(default_factory=dict)
    # Per write, the first evaluation records of the product it creates (None for other writes),
    # committed with it.
    records: list[FirstRecords | None] = field(default_factory=list)
    # The parts of the batch committed before this plan's items, when it did not fit one commit.
    earlier: list[BatchPart] = field(default_factory=list)

    def lined(self, errors: list[ItemError]) -> list[ItemError]:
        return [e.model_copy(update={"line": self.lines.get(e.index)}) for e in errors]

    def add(self, change: Change, indices: list[int], records: FirstRecords | None = None) -> None:
        self.writes.append(change.write)
        self.events.append(change.event)
        self.items.append(indices)
        self.records.append(records)

    def first_records(self) -> list[FirstRecords]:
        return [r for r in self.records if r is not None]

    def without(self, refused: dict[int, str]) -> BatchPlan:
        """This plan less the writes the store refused (by position, with the store's reason):
        their items become INVALID_ITEM failures and are no longer counted as applied."""
        kept = [i for i in range(len(self.writes)) if i not in refused]
        errors = [
            ItemError(
                index=index,
                id=None if self.writes[position].kind == "create" else self.writes[position].doc_id,
                code="INVALID_ITEM",
                message=f"the store refused this item's data: {reason}"[:MAX_ERROR_MESSAGE],
            )
            for position, reason in refused.items()
            for index in self.items[position]
        ]
        return BatchPlan(
            writes=[self.writes[i] for i in kept],
            events=[self.events[i] for i in kept],
            errors=sorted([*self.errors, *self.lined(errors)], key=lambda e: e.index),
            processed=self.processed - len(errors),
            items=[self.items[i] for i in kept],
            lines=self.lines,
            records=[self.records[i] for i in kept if i < len(self.records)],
            earlier=self.earlier,
        )


# A batch's commit also creates its part's marker and, with its last part, the batch's marker and
# the job's counters, and it adds to one shard of the catalog counters.
COMMIT_FIXED_WRITES = 4
EVENT_FIXED_BYTES = 600  # an event's ids, actor, action and times, generously
RECORD_FIXED_BYTES = 300  # a summary's or an SKU-index entry's own fields


def write_cost(plan: BatchPlan, position: int) -> tuple[int, int]:
    """What one of the plan's writes takes of a commit, with its audit event and its records:
    (writes, estimated request bytes)."""
    w, event = plan.writes[position], plan.events[position]
    records = plan.records[position] if position < len(plan.records) else None
    named = NAME_ALLOWANCE + DOCUMENT_OVERHEAD
    if w.size is not None and w.kind == "create":  # measured when planned; its event holds the same values
        size = 2 * w.size + named + EVENT_FIXED_BYTES
    else:
        size = document_size(w.data) + named + EVENT_FIXED_BYTES + fields_change_size(event.changes)
    if records is None:
        return 2, size
    issues = sum(value_size(c.data) for c in records.changes)
    # Each issue is written once as its record and once in the summary's open issues.
    size += 2 * issues + len(records.changes) * named + (1 + len(records.summary.skus)) * (named + RECORD_FIXED_BYTES)
    return 2 + records.writes, size


def items_that_fit(plan: BatchPlan, first_index: int, item_count: int) -> int:
    """How many of the plan's leading items (from `first_index`) one commit can carry within 500
    writes and 10 MiB: `item_count` when the whole plan fits, at least one otherwise."""
    writes, size = COMMIT_FIXED_WRITES, COMMIT_BYTES_RESERVE
    if len(plan.items) < len(plan.writes):
        return item_count  # a plan that does not say which items its writes carry is never cut
    for position in sorted(range(len(plan.writes)), key=lambda i: min(plan.items[i])):
        more_writes, more_bytes = write_cost(plan, position)
        writes, size = writes + more_writes, size + more_bytes
        if writes > MAX_COMMIT_WRITES or size > COMMIT_BYTES_BUDGET:
            return max(1, min(plan.items[position]) - first_index)
    return item_count


# Most writes an item makes: a product, its audit event, and for a product created its first
# quality summary and its SKU-index entry (issue records vary; a batch that has more is
# committed in parts).
WRITES_PER_ITEM = {JobType.BULK_IMPORT: 4, JobType.BULK_UPDATE: 2, JobType.BULK_DELETE: 2}


def items_per_batch(job_type: JobType, max_items: int) -> int:
    """Items a batch of this job type holds, so that its writes fit one commit as a rule."""
    return min(max_items, (MAX_COMMIT_WRITES - COMMIT_FIXED_WRITES) // WRITES_PER_ITEM[job_type])


@dataclass(frozen=True)
class BatchInputs:
    """What storage must supply before a batch can be planned."""

    products: dict[str, tuple[Product, Any]] = field(default_factory=dict)
    references: References = field(default_factory=References)
    # The org's attribute definitions and the templates the items and products name, read once.
    schema: CatalogSchema = field(default_factory=CatalogSchema)


def ids_to_read(job_type: JobType, items: list[Any]) -> list[str]:
    """Existing products a batch must read before it can plan (none for imports)."""
    if job_type is JobType.BULK_IMPORT:
        return []
    raw = items if job_type is JobType.BULK_DELETE else [i.get("id") for i in items if isinstance(i, dict)]
    return sorted({i for i in raw if isinstance(i, str) and _is_uuid(i)})


def touched_ids(job_type: JobType, job_id: str, items: list[Any], first_index: int) -> list[str]:
    """The products a batch may have changed (for imports, whether or not each item succeeded)."""
    if job_type is JobType.BULK_IMPORT:
        return [import_product_id(job_id, first_index + i) for i in range(len(items))]
    return ids_to_read(job_type, items)


def references_to_read(job_type: JobType, items: list[Any]) -> tuple[list[str], list[str]]:
    """Brand and category ids the batch's items refer to (deletes refer to none)."""
    return ([], []) if job_type is JobType.BULK_DELETE else referenced_ids(readable(items))


@dataclass(frozen=True)
class Malformed:
    """An item of an uploaded file that could not be read (a broken CSV record, a line that is not
    JSON): a per-item error, like any item that breaks a rule."""

    reason: str


def readable(items: list[Any]) -> list[Any]:
    """The items that could be read (what a batch reads from storage before planning)."""
    return [i for i in items if not isinstance(i, Malformed)]


def plan_batch(
    job_type: JobType,
    items: list[Any],
    first_index: int,
    inputs: BatchInputs,
    ctx: ChangeContext,
    lines: list[int | None] | None = None,
) -> BatchPlan:
    """Decide every write, audit event and per-item failure of one batch; one bad item never sinks
    the rest. Several items touching one product within a batch fold into one write. `lines`, for
    an uploaded file, gives each item's line, which its failure then names."""
    planner = {
        JobType.BULK_IMPORT: _plan_import,
        JobType.BULK_UPDATE: _plan_update,
        JobType.BULK_DELETE: _plan_delete,
    }[job_type]
    entries = [(first_index + offset, item) for offset, item in enumerate(items)]
    plan = planner([(i, item) for i, item in entries if not isinstance(item, Malformed)], inputs, ctx)
    plan.errors += [
        ItemError(index=i, code="MALFORMED_RECORD", message=item.reason[:MAX_ERROR_MESSAGE])
        for i, item in entries
        if isinstance(item, Malformed)
    ]
    plan.errors.sort(key=lambda e: e.index)
    if lines is not None:
        plan.lines = {first_index + offset: line for offset, line in enumerate(lines) if line is not None}
        plan.errors = plan.lined(plan.errors)
    return plan


def _plan_import(entries: list[tuple[int, Any]], inputs: BatchInputs, ctx: ChangeContext) -> BatchPlan:
    job_id = _job_id(ctx)
    plan = BatchPlan([], [], [], 0)
    for index, item in entries:
        try:
            fields = ImportItem.model_validate(item)
        except ValidationError as exc:
            plan.errors.append(ItemError(index=index, code="INVALID_ITEM", message=describe(exc)))
            continue
        if problems := inputs.references.problems(
            {"brand_id": fields.brand_id, "category_id": fields.category_id, "template_id": fields.template_id}
        ):
            plan.errors.append(_unknown_reference(index, None, problems))
            continue
        if misfits := inputs.schema.attribute_problems(fields.attributes):
            plan.errors.append(ItemError(index=index, code="INVALID_ITEM", message=_describe_fields(misfits)))
            continue
        try:
            change = create_product(
                fields, import_product_id(job_id, index), ctx, item_event_id(job_id, index), inputs.schema
            )
        except InvalidArgumentError as exc:  # the product would not fit a document, or its variants clash
            plan.errors.append(ItemError(index=index, code="INVALID_ITEM", message=describe_problems(exc)))
            continue
        records = (
            first_records(change.product, ctx.tenant_id, ctx.org_id, ctx.now, inputs.schema) if change.product else None
        )
        plan.add(change, [index], records)
        plan.processed += 1
    return plan


@dataclass
class _Folded:
    """The items of one batch that update one product, folded into one write."""

    document: dict[str, Any]  # the product as stored, to measure what the changes make of it
    indices: list[int] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)


def _plan_update(entries: list[tuple[int, Any]], inputs: BatchInputs, ctx: ChangeContext) -> BatchPlan:
    job_id = _job_id(ctx)
    merged: dict[str, _Folded] = {}
    plan = BatchPlan([], [], [], 0)
    for index, item in entries:
        body = dict(item)
        product_id = body.pop("id", None)
        if not isinstance(product_id, str) or not product_id:
            plan.errors.append(
                ItemError(index=index, code="MISSING_ID", message="an update item needs the product `id` (a string)")
            )
            continue
        if product_id not in inputs.products:
            plan.errors.append(_not_found(index, product_id))
            continue
        try:
            update = UpdateItem.model_validate(body)
        except ValidationError as exc:
            plan.errors.append(ItemError(index=index, id=product_id, code="INVALID_ITEM", message=describe(exc)))
            continue
        changes = update.changes()
        if not changes and not update.variants:
            plan.errors.append(
                ItemError(
                    index=index,
                    id=product_id,
                    code="INVALID_ITEM",
                    message="an update item needs at least one field to change",
                )
            )
            continue
        if problems := inputs.references.problems(changes):
            plan.errors.append(_unknown_reference(index, product_id, problems))
            continue
        if misfits := inputs.schema.attribute_problems(changes.get("attributes")):
            plan.errors.append(
                ItemError(index=index, id=product_id, code="INVALID_ITEM", message=_describe_fields(misfits))
            )
            continue
        folded = merged.get(product_id) or _Folded(stored_product(inputs.products[product_id][0]))
        if update.variants:
            try:
                changes["variants"] = _variants_after(folded, inputs.products[product_id][0], update, ctx)
            except InvalidArgumentError as exc:
                plan.errors.append(
                    ItemError(index=index, id=product_id, code="INVALID_ITEM", message=describe_problems(exc))
                )
                continue
        # The item that would make the product too large is the one refused; earlier ones stand.
        after = {**folded.changes, **changes}
        if problem := product_size_problem({**folded.document, **after}, changes):
            plan.errors.append(
                ItemError(
                    index=index, id=product_id, code="INVALID_ITEM", message=f"{problem.field}: {problem.problem}"
                )
            )
            continue
        folded.changes = after
        folded.indices.append(index)
        merged[product_id] = folded
        plan.processed += 1
    for product_id, folded in merged.items():
        product, version = inputs.products[product_id]
        try:
            _, change = update_product(
                product, version, folded.changes, ctx, item_event_id(job_id, folded.indices[0]), inputs.schema
            )
        except (ValidationError, InvalidArgumentError) as exc:  # the record as stored breaks a rule
            message = describe(exc) if isinstance(exc, ValidationError) else describe_problems(exc)
            plan.errors += [
                ItemError(index=i, id=product_id, code="INVALID_ITEM", message=message) for i in folded.indices
            ]
            plan.processed -= len(folded.indices)
            continue
        if change.event.changes:  # an update that changes nothing writes nothing
            plan.add(change, folded.indices)
    plan.errors.sort(key=lambda e: e.index)
    return plan


def _variants_after(folded: _Folded, product: Product, update: UpdateItem, ctx: ChangeContext) -> list[Any]:
    """The product's variants, as the batch's earlier items left them, with this item's changes."""
    earlier = folded.changes.get("variants")
    variants = product.variants if earlier is None else [Variant.model_validate(v) for v in earlier]
    return [v.model_dump(mode="json") for v in patched_variants(variants, update.variant_changes(), ctx.now)]


def _plan_delete(entries: list[tuple[int, Any]], inputs: BatchInputs, ctx: ChangeContext) -> BatchPlan:
    job_id = _job_id(ctx)
    plan = BatchPlan([], [], [], 0)
    deleted: set[str] = set()
    for index, product_id in entries:
        if product_id in deleted or product_id not in inputs.products:
            plan.errors.append(_not_found(index, product_id))
            continue
        deleted.add(product_id)
        product, version = inputs.products[product_id]
        plan.add(delete_product(product, version, ctx, item_event_id(job_id, index)), [index])
        plan.processed += 1
    return plan


def remaining(batch: BatchRange, earlier: list[BatchPart]) -> BatchRange:
    """The items of the batch after its parts already committed."""
    start = earlier[-1].end_item if earlier else batch.first_item
    return batch.model_copy(update={"first_item": start, "item_count": batch.first_item + batch.item_count - start})


def not_applied(
    job_type: JobType, batch: BatchRange, items: list[Any] | None, why: str, lines: list[int | None] | None = None
) -> BatchPlan:
    """A batch given up on: every item recorded as failed and nothing written. `items`, when the
    payload could be read, lets each failure name the product id its item named (and `lines` the
    line of the uploaded file it starts on)."""
    ids: list[Any] = items if items is not None else [None] * batch.item_count
    if job_type is JobType.BULK_UPDATE:
        ids = [i.get("id") if isinstance(i, dict) else None for i in ids]
    elif job_type is JobType.BULK_IMPORT:
        ids = [None] * batch.item_count  # the product would have been created with the item
    message = f"not applied: {why}"[:MAX_ERROR_MESSAGE]
    errors = [
        ItemError(
            index=batch.first_item + offset,
            line=lines[offset] if lines and offset < len(lines) else None,
            id=product_id[:128] if isinstance(product_id, str) else None,
            code="NOT_APPLIED",
            message=message,
        )
        for offset, product_id in enumerate(ids)
    ]
    return BatchPlan([], [], errors, 0)


def _job_id(ctx: ChangeContext) -> str:
    if ctx.job_id is None:
        raise ValueError("a batch is planned for a job")
    return ctx.job_id


def _unknown_reference(index: int, product_id: str | None, problems: list[tuple[str, str]]) -> ItemError:
    return ItemError(
        index=index, id=product_id, code="UNKNOWN_REFERENCE", message="; ".join(f"{f}: {p}" for f, p in problems)
    )


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


def describe_problems(exc: InvalidArgumentError) -> str:
    return _describe_fields(exc.details) or exc.message


def _describe_fields(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{d.field}: {d.problem}" for d in problems)[:MAX_ERROR_MESSAGE]


def final_status(processed: int, failed: int) -> JobStatus:
    """COMPLETED once every item was attempted, unless every single one failed."""
    return JobStatus.FAILED if processed == 0 and failed > 0 else JobStatus.COMPLETED


# Google's 500/50/5 rule for new collections: start at 500 operations/s, grow by half every
# 5 minutes. An imported product is 2 operations on `products` (docs/scaling.md, section 2).
RAMP_STEP_SECONDS = 300
RAMP_GROWTH = 1.5


@dataclass(frozen=True)
class Pacing:
    """How fast one tenant's batches may start: the ramp from `start_rate` products/s, capped at
    `max_rate` (under the about 500 writes/s a timestamp-led index takes, section 3)."""

    start_rate: float
    max_rate: float

    def rate(self, since_first_write: timedelta) -> float:
        """Products/s the tenant may write this long after its first write."""
        steps = min(max(0, int(since_first_write.total_seconds() // RAMP_STEP_SECONDS)), 64)
        return min(self.start_rate * RAMP_GROWTH**steps, self.max_rate)

    def next_start(self, first_write_at: datetime, started_at: datetime, items: int, in_flight: int) -> datetime:
        """When the batch `in_flight` places after one that started at `started_at` with `items`
        items may start: with `in_flight` batches of a job running side by side, each slot takes
        `in_flight * items / rate` seconds a batch, so the job writes no faster than the rate."""
        rate = self.rate(started_at - first_write_at)
        return started_at + timedelta(seconds=in_flight * items / rate)
