"""What Firestore can store, checked before anything is planned: the field rules single requests
and bulk items share, the size of a stored record, and a batch plan less the writes the store
refused. Pure: no network."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.domain.audit import ChangeContext
from shared.domain.bulk import BatchInputs, parse_batch_slice, plan_batch, split_payload
from shared.domain.catalog import (
    MAX_PRODUCT_BYTES,
    CategoryFields,
    CategoryPatch,
    Product,
    ProductFields,
    ProductPatch,
    VariantFields,
    VariantPatch,
    add_variant,
    create_product,
    referenced_ids,
    stored_product,
    update_product,
)
from shared.domain.models import INT64_MAX, INT64_MIN, ItemError, JobType
from shared.domain.sizes import MAX_DOCUMENT_BYTES, document_size, value_size
from shared.errors import InvalidArgumentError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CTX = ChangeContext(tenant_id="t", org_id="o", actor_email="a@example.com", now=NOW, job_id=str(uuid.uuid4()))
ID = "0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c"


def refused_fields(model: type[BaseModel], body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    return [".".join(str(p) for p in e["loc"]) for e in err.value.errors()]


class TestReferenceIds:
    def test_a_uuid_in_any_case_is_stored_in_lowercase(self) -> None:
        assert ProductFields(title="x", brand_id=ID.upper(), category_id=f" {ID} ").brand_id == ID
        assert ProductFields(title="x", category_id=f" {ID.upper()} ").category_id == ID
        assert ProductPatch(brand_id=ID.upper()).brand_id == ID
        assert CategoryFields(name="c", parent_id=ID.upper()).parent_id == ID

    @pytest.mark.parametrize(
        "value",
        [
            "__x__",
            "a/b",
            ".",
            "..",
            "",
            "no-such-brand",
            ID.replace("-", ""),
            "{" + ID + "}",
            "urn:uuid:" + ID,
            ID + "0",
        ],
    )
    def test_anything_else_is_refused_naming_the_field(self, value: str) -> None:
        assert refused_fields(ProductFields, {"title": "x", "brand_id": value}) == ["brand_id"]
        assert refused_fields(ProductFields, {"title": "x", "category_id": value}) == ["category_id"]
        assert refused_fields(ProductPatch, {"brand_id": value}) == ["brand_id"]
        assert refused_fields(CategoryFields, {"name": "c", "parent_id": value}) == ["parent_id"]
        assert refused_fields(CategoryPatch, {"parent_id": value}) == ["parent_id"]

    def test_only_ids_are_read_and_they_are_read_as_stored(self) -> None:
        items = [{"brand_id": ID.upper()}, {"brand_id": "__x__"}, {"brand_id": "a/b"}, {"category_id": 7}]
        assert referenced_ids(items) == ([ID], [])


class TestAttributeNames:
    @pytest.mark.parametrize(
        "name", ["colour", "Größe", "颜色", "screen size (in)", "a.b", "a/b", "_x_", "__x", "x__", "__", "x" * 128]
    )
    def test_printable_names_are_kept(self, name: str) -> None:
        assert ProductFields(title="x", attributes={name: 1}).attributes == {name: 1}

    @pytest.mark.parametrize(
        "name",
        ["__name__", "__x__", "____", "__a b__", "a\x00b", "a\nb", "zero\u200bwidth", "line\u2028sep", "x" * 129, " "],
    )
    def test_reserved_unprintable_or_overlong_names_are_refused(self, name: str) -> None:
        [field] = refused_fields(ProductFields, {"title": "x", "attributes": {name: 1}})
        assert field.startswith("attributes.")
        assert refused_fields(VariantFields, {"attributes": {name: 1}})


class TestAttributeValues:
    @pytest.mark.parametrize(
        "value", [INT64_MIN, INT64_MAX, 0, -1.5, 1e308, True, False, None, "", "x" * 1500, "€" * 500, "😀" * 375]
    )
    def test_values_firestore_stores_exactly_are_kept_as_they_are(self, value: Any) -> None:
        kept = ProductFields(title="x", attributes={"a": value}).attributes["a"]
        assert kept == value and type(kept) is type(value)

    @pytest.mark.parametrize(
        "value",
        [
            INT64_MAX + 1,
            INT64_MIN - 1,
            10**30,
            math.inf,
            -math.inf,
            math.nan,
            "x" * 1501,
            "€" * 501,
            "\ud800",
            [1, 2],
            {"nested": 1},
            Decimal("1.5"),
        ],
    )
    def test_values_it_cannot_store_exactly_are_refused_naming_the_attribute(self, value: Any) -> None:
        for model, body in [
            (ProductFields, {"title": "x"}),
            (ProductPatch, {}),
            (VariantFields, {}),
            (VariantPatch, {}),
        ]:
            assert refused_fields(model, {**body, "attributes": {"a": value}}) == ["attributes.a"]

    def test_a_json_payload_refuses_them_too(self) -> None:
        # What the API parses: Python's json reads 1e400 as infinity and NaN as NaN.
        body = json.loads('{"title": "x", "attributes": {"a": 1e400, "b": NaN, "c": 99999999999999999999}}')
        assert refused_fields(ProductFields, body) == ["attributes.a", "attributes.b", "attributes.c"]


@pytest.mark.parametrize("field", ["title", "description", "sku", "barcode", "category", "brand"])
def test_text_with_an_unpaired_surrogate_is_refused(field: str) -> None:
    assert refused_fields(ProductFields, {"title": "x", field: "bad \ud800"}) == [field]
    assert refused_fields(CategoryFields, {"name": "\udfff"}) == ["name"]


def test_stored_records_are_read_as_they_are() -> None:
    """A record written before today's rules is still read, listed and exported."""
    legacy = Product.model_validate(
        {
            "id": "p",
            "tenant_id": "t",
            "org_id": "o",
            "created_at": NOW,
            "updated_at": NOW,
            "title": "Old",
            "brand_id": "legacy-brand",
            "attributes": {"long": "x" * 5000, "__odd__": 1},
        }
    )
    assert legacy.brand_id == "legacy-brand" and len(legacy.attributes["long"]) == 5000


class TestSizes:
    def test_sizes_follow_the_stores_documented_rules(self) -> None:
        assert [value_size(v) for v in ("abc", "é", "", 1, 1.5, True, None, NOW, Decimal("1.5"), b"ab")] == [
            4,
            3,
            1,
            8,
            8,
            1,
            1,
            8,
            4,
            2,
        ]
        assert value_size({"a": 1, "bc": [1, "x"]}) == (2 + 8) + (3 + 8 + 2)

    def test_a_product_too_large_is_refused_naming_its_largest_field(self) -> None:
        fields = ProductFields(
            title="x", description="😀" * 50_000, attributes={f"a{i:03d}": "v" * 1500 for i in range(200)}
        )
        with pytest.raises(InvalidArgumentError) as err:
            create_product(fields, "p", CTX)
        [problem] = err.value.details
        assert problem.field == "attributes" and f"at most {MAX_PRODUCT_BYTES:,}" in problem.problem

    def test_an_update_is_refused_naming_the_changed_field_that_weighs_most(self) -> None:
        product = Product.model_validate(
            create_product(ProductFields(title="x", description="😀" * 50_000), "p", CTX).write.data
        )
        changes = ProductPatch(title="y", attributes={f"a{i:03d}": "v" * 1500 for i in range(200)}).changes()
        with pytest.raises(InvalidArgumentError) as err:
            update_product(product, None, changes, CTX)
        assert [d.field for d in err.value.details] == ["attributes"]

    def test_a_variant_that_overflows_its_product_is_refused(self) -> None:
        product = Product.model_validate(
            create_product(ProductFields(title="x", description="😀" * 50_000), "p", CTX).write.data
        )
        variant = VariantFields(sku="S", attributes={f"a{i:02d}": "v" * 1500 for i in range(50)})
        for i in range(3):
            _, change = add_variant(product, None, variant, f"v{i}", CTX)
            product = Product.model_validate({**product.model_dump(), **change.write.data})
        with pytest.raises(InvalidArgumentError) as err:
            add_variant(product, None, variant, "v3", CTX)
        assert [d.field for d in err.value.details] == ["attributes"]

    def test_the_audit_event_of_the_largest_update_still_fits_a_document(self) -> None:
        """An update's event holds the changed fields before and after: a product kept under
        MAX_PRODUCT_BYTES leaves room for both."""

        def largest_product(mark: str) -> ProductFields:
            attributes = {f"{i:03d}" + mark * 125: "v" * 1500 for i in range(200)}
            texts = dict.fromkeys(("title", "category", "brand"), mark * 500) | {
                "sku": mark * 128,
                "barcode": mark * 128,
                "brand_id": str(uuid.uuid4()),
                "category_id": str(uuid.uuid4()),
            }
            small = ProductFields(**texts, attributes=attributes)
            room = MAX_PRODUCT_BYTES - document_size(create_product(small, "p", CTX).write.data)
            return ProductFields(**texts, attributes=attributes, description=mark * (room // 4 - 1))

        before = largest_product("😀")
        current = Product.model_validate(create_product(before, "p", CTX).write.data)
        assert document_size(stored_product(current)) > MAX_PRODUCT_BYTES - 16  # as large as allowed
        after = largest_product("🙂").model_dump(exclude={"status", "template_id"}, mode="json")
        _, change = update_product(current, None, after, CTX)
        assert set(change.event.changes) == set(after)
        assert document_size(change.event.model_dump(mode="python")) < MAX_DOCUMENT_BYTES


class TestRecordedText:
    def test_what_an_item_error_quotes_is_always_storable(self) -> None:
        error = ItemError(index=0, id="\ud800x", code="NOT_FOUND", message="attributes.\udc00: bad")
        assert (error.id, error.message) == ("?x", "attributes.?: bad")
        assert error.message.encode()

    def test_an_item_with_an_unpaired_surrogate_is_stored_escaped_and_refused_alone(self) -> None:
        items = [{"title": "ok"}, {"title": "bad \ud800"}]
        split = split_payload(items, 10, 10_000)
        assert split.text.decode() and json.loads(split.text) == items
        [batch] = split.batches
        got = parse_batch_slice(split.text[batch.start : batch.end])
        plan = plan_batch(JobType.BULK_IMPORT, got, 0, BatchInputs(), CTX)
        assert plan.processed == 1 and [(e.index, e.code) for e in plan.errors] == [(1, "INVALID_ITEM")]
        assert plan.errors[0].message.startswith("title")


class TestPlanLessRefusedWrites:
    def test_the_items_of_a_refused_write_fail_and_the_rest_stay(self) -> None:
        a, b = (
            Product(id=str(uuid.uuid4()), tenant_id="t", org_id="o", created_at=NOW, updated_at=NOW, title="T")
            for _ in "ab"
        )
        items = [{"id": a.id, "title": "A1"}, {"id": b.id, "title": "B"}, {"id": "gone"}, {"id": a.id, "sku": "S"}]
        inputs = BatchInputs(products={a.id: (a, "va"), b.id: (b, "vb")})
        plan = plan_batch(JobType.BULK_UPDATE, items, 10, inputs, CTX)
        assert (plan.processed, [w.doc_id for w in plan.writes], plan.items) == (3, [a.id, b.id], [[10, 13], [11]])
        less = plan.without({0: "field name '__name__' is reserved."})
        assert (less.processed, [w.doc_id for w in less.writes], [e.resource_id for e in less.events]) == (
            1,
            [b.id],
            [b.id],
        )
        assert [(e.index, e.id, e.code) for e in less.errors] == [
            (10, a.id, "INVALID_ITEM"),
            (12, "gone", "NOT_FOUND"),
            (13, a.id, "INVALID_ITEM"),
        ]
        assert less.errors[0].message == "the store refused this item's data: field name '__name__' is reserved."

    def test_a_refused_import_reports_no_product_id(self) -> None:
        plan = plan_batch(JobType.BULK_IMPORT, [{"title": "a"}, {"title": "b"}], 0, BatchInputs(), CTX)
        less = plan.without({1: "too big"})
        assert [(e.index, e.id) for e in less.errors] == [(1, None)] and less.processed == 1
