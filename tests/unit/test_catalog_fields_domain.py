"""The pure rules of the catalog fields: slugs derived and suffixed, https logo URLs, variants'
options compared and variants scored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.domain.catalog import Variant, option_clashes, options_key
from shared.domain.scoring import VARIANT_SCORE_WEIGHTS, variant_quality_score
from shared.domain.slugs import MAX_SLUG, HttpsUrl, Slug, derived_slug, slug_candidates

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Knitwear", "knitwear"),
        ("Café Crème", "cafe-creme"),
        ("  T-Shirts & Tops ", "t-shirts-tops"),
        ("Straße", "strasse"),
        ("北京", "bei-jing"),
        ("★★★", "brand"),
        ("x" * 300, "x" * (MAX_SLUG - 4)),
    ],
)
def test_a_derived_slug_is_a_valid_slug_with_room_for_a_suffix(name: str, slug: str) -> None:
    derived = derived_slug(name, "brand")
    assert derived == slug
    assert TypeAdapter(Slug).validate_python(f"{derived}-99") == f"{derived}-99"


def test_slug_candidates_are_the_slug_then_numbered_suffixes() -> None:
    candidates = list(slug_candidates("knitwear"))
    assert candidates[:3] == ["knitwear", "knitwear-2", "knitwear-3"] and candidates[-1] == "knitwear-99"


@pytest.mark.parametrize("slug", ["Knit", "knit_wear", "-a", "a-", "a--b", "", "a" * 101, "é"])
def test_bad_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Slug).validate_python(slug)


@pytest.mark.parametrize(
    "url", ["https://a.example/x.png", "HTTPS://A.EXAMPLE/x", "https://a.example:8443/x?y=1#z", "https://[::1]/x"]
)
def test_https_urls_are_kept_as_sent(url: str) -> None:
    assert TypeAdapter(HttpsUrl).validate_python(f" {url} ") == url


@pytest.mark.parametrize(
    "url",
    ["http://a.example/x", "https://", "https:///x", "//a.example/x", "https://a b/x", "https://a.example/\x00", "x"],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(HttpsUrl).validate_python(url)


def variant(vid: str, **fields: object) -> Variant:
    return Variant.model_validate({"id": vid, "product_id": "p", "created_at": NOW, "updated_at": NOW, **fields})


def test_options_are_the_same_ignoring_case_spacing_and_order() -> None:
    assert options_key({"color": "Light  Red", "size": "S"}) == options_key({"size": "s", "color": "light red"})
    assert options_key({"color": "Red"}) != options_key({"colour": "Red"})
    assert options_key({}) is None
    a, b, c, d, e = (
        variant("a", option_values={"color": "Red"}),
        variant("b"),
        variant("c", option_values={"color": "RED"}),
        variant("d"),
        variant("e", option_values={"color": "Red", "size": "S"}),
    )
    assert option_clashes([a, b, c, d, e]) == [(a, c)]


def test_a_variant_scores_each_field_by_its_weight() -> None:
    assert sum(VARIANT_SCORE_WEIGHTS.values()) == 100
    assert variant_quality_score(variant("a")) == 0
    full = variant(
        "a",
        sku="S",
        barcode="4006381333931",
        price="1",
        cost_price="0.5",
        currency="EUR",
        option_values={"color": "Red"},
        attributes={"fit": "slim"},
    )
    assert variant_quality_score(full) == 100
    assert variant_quality_score(full.model_copy(update={"barcode": "4006381333932"})) == 80  # not a GTIN
    assert variant_quality_score(full.model_copy(update={"cost_price": None})) == 90
    assert variant_quality_score(full.model_copy(update={"option_values": {}})) == 80
    assert variant_quality_score(full.model_copy(update={"price": None, "sku": None})) == 60
    assert variant_quality_score(full.model_copy(update={"attributes": {}})) == 90
