"""The pure rules of bulk jobs: payload shape, splitting, per-item planning, final status."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.domain.audit import ChangeContext
from shared.domain.bulk import (
    BatchInputs,
    final_status,
    ids_to_read,
    import_product_id,
    item_event_id,
    parse_batch_slice,
    parse_payload,
    plan_batch,
    split_payload,
)
from shared.domain.catalog import Product, References
from shared.domain.models import JobStatus, JobType
from shared.errors import InvalidArgumentError, InvalidJsonError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CTX = ChangeContext(tenant_id="t", org_id="o", actor_email="a@example.com", now=NOW, job_id=str(uuid.uuid4()))
JOB_ID = CTX.job_id or ""


def product(pid: str, **fields: object) -> Product:
    return Product(id=pid, tenant_id="t", org_id="o", created_at=NOW, updated_at=NOW, **{"title": "T", **fields})


class TestParsePayload:
    def test_accepts_an_array_or_a_string_holding_one(self) -> None:
        assert parse_payload(JobType.BULK_IMPORT, [{"title": "a"}], 10) == [{"title": "a"}]
        assert parse_payload(JobType.BULK_DELETE, '["x", "y"]', 10) == ["x", "y"]

    def test_a_string_that_is_not_json_is_invalid_json(self) -> None:
        with pytest.raises(InvalidJsonError) as err:
            parse_payload(JobType.BULK_IMPORT, "[{", 10)
        assert err.value.details[0].field == "payload"

    @pytest.mark.parametrize("payload", [{"title": "a"}, 3, None, '"text"'])
    def test_anything_but_an_array_is_rejected(self, payload: object) -> None:
        with pytest.raises(InvalidArgumentError, match="must be a JSON array"):
            parse_payload(JobType.BULK_IMPORT, payload, 10)

    def test_an_empty_array_is_rejected(self) -> None:
        with pytest.raises(InvalidArgumentError, match="empty"):
            parse_payload(JobType.BULK_UPDATE, [], 10)

    def test_more_items_than_the_limit_are_rejected(self) -> None:
        with pytest.raises(InvalidArgumentError, match="at most 3"):
            parse_payload(JobType.BULK_DELETE, ["a"] * 4, 3)

    def test_items_of_the_wrong_kind_are_named_by_index(self) -> None:
        with pytest.raises(InvalidArgumentError) as err:
            parse_payload(JobType.BULK_IMPORT, [{"title": "a"}, "b", [1]], 10)
        assert [d.field for d in err.value.details] == ["payload[1]", "payload[2]"]
        with pytest.raises(InvalidArgumentError) as err:
            parse_payload(JobType.BULK_DELETE, ["id", {"id": "x"}], 10)
        assert err.value.details[0].field == "payload[1]"


class TestSplitPayload:
    @pytest.mark.parametrize(("count", "max_items", "max_bytes"), [(1, 5, 10_000), (17, 5, 10_000), (40, 100, 200)])
    def test_batches_cover_every_item_once_in_order(self, count: int, max_items: int, max_bytes: int) -> None:
        items = [{"title": f"product é {i}", "n": i} for i in range(count)]
        split = split_payload(items, max_items, max_bytes)
        assert json.loads(split.text) == items  # the stored object is the payload itself
        seen = []
        for batch in split.batches:
            chunk = parse_batch_slice(split.text[batch.start : batch.end])
            assert len(chunk) == batch.item_count <= max_items
            assert chunk == items[batch.first_item : batch.first_item + batch.item_count]
            seen.extend(chunk)
        assert seen == items
        assert [b.index for b in split.batches] == list(range(len(split.batches)))

    def test_a_batch_is_cut_by_bytes_but_always_holds_one_item(self) -> None:
        items = [{"description": "x" * 500} for _ in range(3)]
        split = split_payload(items, 100, 100)
        assert [b.item_count for b in split.batches] == [1, 1, 1]


def inputs(*products: tuple[Product, str], brands: tuple[str, ...] = ()) -> BatchInputs:
    return BatchInputs(products={p.id: (p, v) for p, v in products}, references=References(brands=frozenset(brands)))


class TestPlanBatch:
    def test_import_gives_deterministic_ids_an_event_each_and_reports_bad_items(self) -> None:
        brand, unknown = str(uuid.uuid4()), str(uuid.uuid4())
        items = [
            {"title": "ok", "brand_id": brand},
            {"sku": "no title"},
            {"title": "x", "colour": 1},
            {"title": "y", "brand_id": unknown},
        ]
        plan = plan_batch(JobType.BULK_IMPORT, items, 10, inputs(brands=(brand,)), CTX)
        assert plan.processed == 1
        assert [w.doc_id for w in plan.writes] == [import_product_id(JOB_ID, 10)]
        assert plan.writes[0].data["created_by"] == "a@example.com"
        [event] = plan.events
        assert (event.id, event.action, event.resource_id, event.job_id, event.actor_email) == (
            item_event_id(JOB_ID, 10),
            "product.created",
            import_product_id(JOB_ID, 10),
            JOB_ID,
            "a@example.com",
        )
        assert event.changes["title"].after == "ok" and event.changes["title"].before is None
        assert [(e.index, e.code) for e in plan.errors] == [
            (11, "INVALID_ITEM"),
            (12, "INVALID_ITEM"),
            (13, "UNKNOWN_REFERENCE"),
        ]
        assert "title" in plan.errors[0].message and "colour" in plan.errors[1].message

    def test_import_ids_differ_per_job_and_index(self) -> None:
        other = str(uuid.uuid4())
        assert import_product_id(JOB_ID, 1) != import_product_id(JOB_ID, 2)
        assert import_product_id(JOB_ID, 1) != import_product_id(other, 1)
        assert import_product_id(JOB_ID, 1) == import_product_id(JOB_ID, 1)

    def test_update_changes_only_given_fields_and_folds_repeats(self) -> None:
        a, b = product(str(uuid.uuid4())), product(str(uuid.uuid4()), description="old")
        items = [
            {"id": a.id, "title": "New"},
            {"id": a.id, "sku": "S"},
            {"id": b.id, "description": None},
            {"id": str(uuid.uuid4()), "title": "ghost"},
            {"title": "no id"},
            {"id": b.id, "title": None},
            {"id": b.id},
            {"id": b.id, "status": "GONE"},
        ]
        plan = plan_batch(JobType.BULK_UPDATE, items, 0, inputs((a, "v1"), (b, "v2")), CTX)
        writes = {w.doc_id: w for w in plan.writes}
        assert writes[a.id].data["title"] == "New" and writes[a.id].data["sku"] == "S" and writes[a.id].version == "v1"
        assert writes[b.id].data["description"] is None and "title" not in writes[b.id].data
        events = {e.resource_id: e for e in plan.events}
        assert set(events[a.id].changes) == {"title", "sku"} and events[a.id].changes["title"].before == "T"
        assert events[b.id].changes["description"].model_dump() == {"before": "old", "after": None}
        assert plan.processed == 3
        assert [(e.index, e.code) for e in plan.errors] == [
            (3, "NOT_FOUND"),
            (4, "MISSING_ID"),
            (5, "INVALID_ITEM"),
            (6, "INVALID_ITEM"),
            (7, "INVALID_ITEM"),
        ]

    def test_an_update_that_changes_nothing_writes_nothing(self) -> None:
        a = product(str(uuid.uuid4()), sku="S")
        plan = plan_batch(JobType.BULK_UPDATE, [{"id": a.id, "sku": "S"}], 0, inputs((a, "v")), CTX)
        assert (plan.processed, plan.writes, plan.events) == (1, [], [])

    def test_delete_reports_unknown_and_repeated_ids(self) -> None:
        a = product(str(uuid.uuid4()))
        plan = plan_batch(JobType.BULK_DELETE, [a.id, "not-a-uuid", a.id], 5, inputs((a, "v")), CTX)
        assert [(w.kind, w.doc_id) for w in plan.writes] == [("delete", a.id)]
        assert [e.action for e in plan.events] == ["product.deleted"]
        assert plan.events[0].changes["title"].before == "T"
        assert [(e.index, e.code) for e in plan.errors] == [(6, "NOT_FOUND"), (7, "NOT_FOUND")]

    def test_only_well_formed_ids_are_read(self) -> None:
        a = str(uuid.uuid4())
        assert ids_to_read(JobType.BULK_DELETE, [a, "../other-tenant/x", a]) == [a]
        assert ids_to_read(JobType.BULK_UPDATE, [{"id": a}, {"id": 3}, {}]) == [a]
        assert ids_to_read(JobType.BULK_IMPORT, [{"id": a}]) == []


@pytest.mark.parametrize(
    ("processed", "failed", "status"),
    [(5, 0, JobStatus.COMPLETED), (4, 1, JobStatus.COMPLETED), (0, 3, JobStatus.FAILED)],
)
def test_a_job_fails_only_when_every_item_failed(processed: int, failed: int, status: JobStatus) -> None:
    assert final_status(processed, failed) is status


def test_a_diff_leaves_out_bookkeeping_and_empty_to_empty_changes() -> None:
    from shared.domain.audit import diff

    before = {"title": "A", "attributes": {}, "variants": [], "sku": None, "updated_at": 1, "product_id": "p"}
    after = {"title": "B", "attributes": None, "sku": "S", "updated_at": 2}
    changes = diff(before, after)
    assert {k: (v.before, v.after) for k, v in changes.items()} == {"title": ("A", "B"), "sku": (None, "S")}
