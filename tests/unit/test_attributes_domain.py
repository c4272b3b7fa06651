"""The rules of attribute definitions and templates: what a definition may say, which values fit
it, completeness, the issues it raises and how it weighs in the score."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.attributes import AttributeDefinition, AttributeFields, CatalogSchema, ProductTemplate
from shared.domain.catalog import Product
from shared.domain.quality import evaluate
from shared.domain.scoring import quality_score, with_completeness

NOW = datetime(2026, 11, 30, tzinfo=UTC)
STAMP = {"tenant_id": "t", "org_id": "o", "created_at": NOW, "updated_at": NOW}


def definition(**fields: Any) -> AttributeDefinition:
    return AttributeDefinition(id=fields.get("slug", "x"), name="N", **STAMP, **fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "SELECT"},
        {"type": "MULTI_SELECT", "options": ["a", "A"]},
        {"type": "TEXT", "options": ["a"]},
        {"type": "BOOLEAN", "min": 0},
        {"type": "NUMBER", "min": 2, "max": 1},
        {"type": "NUMBER", "max": float("inf")},
        {"type": "NUMBER", "options": ["1"]},
        {"type": "COLOUR"},
    ],
)
def test_definitions_that_do_not_hold_together_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AttributeFields.model_validate({"name": "N", "slug": "s", **fields})


def test_a_number_fits_its_bounds_and_text_that_is_a_number_fits_too() -> None:
    weight = definition(slug="weight", type="NUMBER", unit="kg", min=0, max=1000)
    assert [weight.problem(v) for v in (0, 1000, 12.5, "7", " 8.5 ", None)] == [None] * 6
    assert "must be a number (in kg)" in (weight.problem("heavy") or "")
    assert "below the minimum 0" in (weight.problem(-0.1) or "")
    assert "above the maximum 1000" in (weight.problem("1000.01") or "")
    assert all(weight.problem(v) for v in (True, "NaN", "Infinity", "1e999x", ""))


def test_selects_booleans_dates_and_urls() -> None:
    size = definition(slug="size", type="SELECT", options=["S", "M"])
    tags = definition(slug="tags", type="MULTI_SELECT", options=["a", "b"])
    flag = definition(slug="flag", type="BOOLEAN")
    day = definition(slug="day", type="DATE")
    link = definition(slug="link", type="URL")
    assert (size.problem("S"), size.problem("s") is not None, size.problem(1) is not None) == (None, True, True)
    assert (tags.problem("a|b"), tags.problem("b"), tags.problem("a|c") is not None) == (None, None, True)
    assert (flag.problem(False), flag.problem("TRUE"), flag.problem(0) is not None) == (None, None, True)
    assert (day.problem("2024-02-29"), day.problem("2023-02-29") is not None) == (None, True)
    assert (link.problem("https://a.example/x"), link.problem("javascript:alert(1)") is not None) == (None, True)
    assert link.problem("http://") is not None and link.problem("https://a b") is not None


def template(*required: str, optional: tuple[str, ...] = ()) -> ProductTemplate:
    attributes = [{"slug": s, "required": True} for s in required] + [{"slug": s} for s in optional]
    return ProductTemplate(
        id="t1", name="Apparel", slug="apparel", attribute_groups=[{"name": "G", "attributes": attributes}], **STAMP
    )


def product(**fields: Any) -> Product:
    return Product(id="p", title="A product title", **STAMP, **fields)


def test_completeness_is_the_share_of_required_attributes_with_a_value() -> None:
    schema = CatalogSchema(templates={"t1": template("a", "b", "c", optional=("d",))})
    assert schema.completeness("t1", {"a": 1, "b": "x", "d": 1}) == 67
    assert schema.completeness("t1", {"a": 1, "b": " ", "c": None}) == 33  # blank text and null are no value
    assert schema.completeness("t1", {"a": 0, "b": False, "c": "0"}) == 100
    assert schema.completeness(None, {}) is None and schema.completeness("unknown", {}) is None
    assert CatalogSchema(templates={"t1": template(optional=("d",))}).completeness("t1", {}) == 100


def test_missing_required_and_invalid_values_are_issues() -> None:
    schema = CatalogSchema(
        definitions={"weight": definition(slug="weight", type="NUMBER", max=10)},
        templates={"t1": template("weight", "material")},
    )
    found = evaluate(product(template_id="t1", attributes={"weight": 11}), {}, schema)
    assert {(f.code, f.severity.value, f.field, f.attribute) for f in found if "ATTRIBUTE" in f.code} == {
        ("MISSING_REQUIRED_ATTRIBUTE", "WARNING", "attributes.material", "material"),
        ("INVALID_ATTRIBUTE_VALUE", "ERROR", "attributes.weight", "weight"),
    }
    assert not [f for f in evaluate(product(attributes={"weight": 11}), {}) if "ATTRIBUTE" in f.code]


def test_the_score_blends_in_completeness() -> None:
    assert with_completeness(80, None) == 80
    assert with_completeness(80, 0) == 60 and with_completeness(80, 100) == 85 and with_completeness(81, 50) == 73
    plain = quality_score(product())
    assert quality_score(product(completeness=40)) == round(0.75 * plain + 0.25 * 40)
