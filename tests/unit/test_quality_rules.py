"""Data-quality rules, score and reconciliation: pure functions, no storage."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from stdnum import ean

from shared.domain.catalog import Product, Variant
from shared.domain.quality import (
    RULES,
    evaluate,
    issue_id,
    parse_holder,
    reconcile,
    registered_skus,
    registry_changes,
    verified_holders,
)
from shared.domain.scoring import LOW_SCORE_THRESHOLD, SCORE_WEIGHTS, is_valid_gtin, quality_score

NOW = datetime(2026, 11, 27, tzinfo=UTC)
COMPLETE = {
    "title": "Cordless Drill 18V",
    "description": "A" * 60,
    "sku": "CD-1",
    "barcode": "4006381333931",
    "category": "Tools",
    "brand": "Acme",
    "attributes": {"volt": 18},
}


def product(pid: str = "p1", variants: list[dict[str, Any]] | None = None, **fields: Any) -> Product:
    data = {**COMPLETE, **fields}
    return Product(
        id=pid,
        tenant_id="t",
        org_id="o",
        created_at=NOW,
        updated_at=NOW,
        **data,
        variants=[
            Variant(
                id=v.get("id", f"v{i}"),
                product_id=pid,
                created_at=NOW,
                updated_at=NOW,
                **{k: x for k, x in v.items() if k != "id"},
            )
            for i, v in enumerate(variants or [])
        ],
    )


def codes(p: Product, holders: dict[str, set[tuple[str, str | None]]] | None = None) -> set[tuple[str, str | None]]:
    return {(f.code, f.variant_id) for f in evaluate(p, holders or {})}


def test_weights_add_up_to_100_and_a_complete_product_with_a_price_scores_100() -> None:
    assert sum(SCORE_WEIGHTS.values()) == 100
    assert quality_score(product(variants=[{"price": 5, "currency": "EUR"}])) == 100
    assert quality_score(product(variants=[])) == 90  # no priced variant
    bare = product(description=None, sku=None, barcode=None, category=None, brand=None, attributes={}, title="Lamp")
    assert quality_score(bare) == 5 < LOW_SCORE_THRESHOLD


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("4006381333931", True),
        ("036000291452", True),
        ("96385074", True),
        ("10012345678902", True),
        ("4006381333932", False),
        ("400638133393", False),
        ("40063813339X1", False),
        ("123", False),
        ("", False),
    ],
)
def test_gtins_are_checked_by_length_and_check_digit(code: str, valid: bool) -> None:
    assert is_valid_gtin(code) is valid


def test_gtin_checks_agree_with_python_stdnum() -> None:
    """The check digit computed here, against the library it replaced, on every length, every
    check digit, and digits that are not ASCII."""
    rng = random.Random(11)
    codes = [
        "".join(rng.choice("0123456789") for _ in range(length))
        for length in (7, 8, 12, 13, 14, 15)
        for _ in range(300)
    ]
    codes += [code[:-1] + str(d) for code in codes[:200] for d in range(10)]
    codes += ["٤٠٠٦٣٨١٣٣٣٩٣١", "4006381333931 ", "40063813-3931", "+4006381333931"]
    for code in codes:
        assert is_valid_gtin(code) is bool(len(code) in (8, 12, 13, 14) and code.isdigit() and ean.is_valid(code)), code


def test_a_complete_product_has_no_findings() -> None:
    assert codes(product()) == set()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"description": None}, "MISSING_DESCRIPTION"),
        ({"description": "   "}, "MISSING_DESCRIPTION"),
        ({"sku": None}, "MISSING_SKU"),
        ({"category": None}, "MISSING_CATEGORY"),
        ({"brand": None}, "MISSING_BRAND"),
        ({"barcode": "4006381333932"}, "INVALID_BARCODE"),
    ],
)
def test_each_rule_finds_its_problem(fields: dict[str, Any], expected: str) -> None:
    assert (expected, None) in codes(product(**fields))


def test_a_low_score_is_a_warning_of_its_own() -> None:
    found = evaluate(product(description=None, sku=None, barcode=None, category=None, attributes={}), {})
    low = [f for f in found if f.code == "LOW_QUALITY_SCORE"]
    assert low and low[0].severity == "WARNING" and low[0].field == "data_quality_score"


def test_a_variant_barcode_is_checked_too() -> None:
    assert ("INVALID_BARCODE", "v0") in codes(product(variants=[{"barcode": "123"}]))


def test_severities_follow_the_guide() -> None:
    found = {
        f.code: f.severity
        for f in evaluate(product(description=None, barcode="1", sku="S"), {"S": {("p1", None), ("p2", None)}})
    }
    assert found["MISSING_DESCRIPTION"] == "WARNING"
    assert found["INVALID_BARCODE"] == found["DUPLICATE_SKU"] == "ERROR"
    assert len(RULES) >= 6


def test_a_sku_held_twice_is_a_duplicate_for_each_holder() -> None:
    a = product("a", sku="S")
    b = product("b", sku="X", variants=[{"id": "vb", "sku": "S"}])
    holders = {"S": {("a", None), ("b", "vb")}, "X": {("b", None)}}
    assert ("DUPLICATE_SKU", None) in codes(a, holders)
    assert ("DUPLICATE_SKU", "vb") in codes(b, holders)
    assert ("DUPLICATE_SKU", None) not in codes(b, holders)  # b's own SKU X is unique
    assert codes(a, {"S": {("a", None)}}) == set()


def test_reconcile_opens_keeps_updates_and_resolves() -> None:
    p = product("p", description=None, barcode="1")
    first = reconcile(["p"], {"p": p}, {}, [], "t", "o", NOW)
    assert {c.issue_id for c in first} == {
        issue_id("p", code) for code in ("MISSING_DESCRIPTION", "INVALID_BARCODE", "LOW_QUALITY_SCORE")
    }
    from shared.domain.quality import ValidationIssue

    open_now = [ValidationIssue.model_validate(c.data) for c in first]
    assert reconcile(["p"], {"p": p}, {}, open_now, "t", "o", NOW) == []  # nothing changed: nothing written
    fixed = product("p", description="now described at length, well over fifty characters long", barcode="2")
    second = {c.issue_id: c.data for c in reconcile(["p"], {"p": fixed}, {}, open_now, "t", "o", NOW)}
    assert second[issue_id("p", "MISSING_DESCRIPTION")]["resolved"] is True
    assert second[issue_id("p", "LOW_QUALITY_SCORE")]["resolved"] is True  # 50 -> 75
    assert second[issue_id("p", "INVALID_BARCODE")]["value"] == "2"  # still invalid, now about "2"
    gone = reconcile(["p"], {}, {}, open_now, "t", "o", NOW)
    assert all(c.data["resolved"] and c.data["resolved_at"] == NOW for c in gone) and len(gone) == 3


def test_the_sku_index_follows_a_products_skus() -> None:
    before = registered_skus(product("p", sku="A", variants=[{"id": "v", "sku": "B"}]))
    assert before == {"A": "p", "B": "p/v"}
    after = registered_skus(product("p", sku="C", variants=[{"id": "v", "sku": "B"}]))
    assert registry_changes(before, after) == ({"C": {"p"}}, {"A": {"p"}})
    assert registry_changes(before, {}) == ({}, {"A": {"p"}, "B": {"p/v"}})
    assert parse_holder("p/v") == ("p", "v") and parse_holder("p") == ("p", None)


def test_stale_index_entries_are_not_counted_as_holders() -> None:
    index = {"S": {"a", "b", "gone"}}
    products = {"a": product("a", sku="S"), "b": product("b", sku="OTHER")}
    assert verified_holders(index, products) == {"S": {("a", None)}}
