"""The catalog fields of Synq's docs: brand and category slugs (unique per tenant and org, exact
under concurrent creates), brand logos, and variants' options, cost prices and own scores."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.domain.audit import AuditEvent
from shared.domain.catalog import BRANDS, CATEGORIES, BrandFields, CategoryFields, Write
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import ConflictError
from shared.services.taxonomy import Taxonomy
from tests.integration.conftest import JsonApi
from tests.support import headers, new_scope

B = "/api/v1/pim/brands"
C = "/api/v1/pim/categories"
P = "/api/v1/pim/products"


# --- slugs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("base", [B, C])
def test_a_slug_is_derived_from_the_name_and_a_clash_takes_the_next_suffix(api: JsonApi, base: str) -> None:
    assert api("POST", base, {"name": "Café Crème"}, 201)["slug"] == "cafe-creme"
    assert api("POST", base, {"name": "Cafe  Creme!"}, 201)["slug"] == "cafe-creme-2"
    assert api("POST", base, {"name": "CAFE creme?"}, 201)["slug"] == "cafe-creme-3"
    assert api("POST", base, {"name": "★★★"}, 201)["slug"] == {B: "brand", C: "category"}[base]


@pytest.mark.parametrize("base", [B, C])
def test_a_given_slug_is_kept_and_a_taken_one_is_409(api: JsonApi, base: str) -> None:
    first = api("POST", base, {"name": "Knitwear", "slug": "knitwear"}, 201)
    assert first["slug"] == "knitwear" and api("GET", f"{base}/{first['id']}", expect=200)["slug"] == "knitwear"
    clash = api("POST", base, {"name": "Other", "slug": "knitwear"}, 409)
    assert clash["code"] == "CONFLICT" and "knitwear" in clash["error"]
    # A derived slug never takes one given before: it takes the next suffix.
    assert api("POST", base, {"name": "knit wear"}, 201)["slug"] == "knit-wear"
    assert [x["name"] for x in api("GET", base, expect=200)["items"]] == ["Knitwear", "knit wear"]


def test_categories_of_one_name_under_two_parents_get_two_slugs(api: JsonApi) -> None:
    men = api("POST", C, {"name": "Men"}, 201)
    women = api("POST", C, {"name": "Women"}, 201)
    first = api("POST", C, {"name": "Knitwear", "parent_id": men["id"]}, 201)
    second = api("POST", C, {"name": "Knitwear", "parent_id": women["id"]}, 201)
    assert (first["slug"], second["slug"]) == ("knitwear", "knitwear-2")


@pytest.mark.parametrize(
    "slug",
    ["Knitwear", "knit wear", "knit_wear", "-knit", "knit-", "knit--wear", "", "ü", "a" * 101, "knit/wear", 7],
)
@pytest.mark.parametrize("base", [B, C])
def test_bad_slugs_are_400_naming_the_field(api: JsonApi, base: str, slug: Any) -> None:
    error = api("POST", base, {"name": "Knitwear", "slug": slug}, 400)
    assert error["details"][0]["field"] == "slug"
    assert api("GET", base, expect=200)["items"] == []


def test_the_longest_slug_is_accepted(api: JsonApi) -> None:
    assert api("POST", B, {"name": "Long", "slug": "a" * 100}, 201)["slug"] == "a" * 100


@pytest.mark.parametrize("base", [B, C])
def test_changing_a_slug_moves_its_index_entry(api: JsonApi, base: str) -> None:
    one = api("POST", base, {"name": "One", "slug": "one"}, 201)
    two = api("POST", base, {"name": "Two"}, 201)
    assert api("PUT", f"{base}/{two['id']}", {"slug": "one"}, 409)["code"] == "CONFLICT"
    assert api("PUT", f"{base}/{one['id']}", {"slug": "uno"}, 200)["slug"] == "uno"
    assert api("PUT", f"{base}/{two['id']}", {"slug": "one"}, 200)["slug"] == "one"  # the old slug is free
    api("POST", base, {"name": "Three", "slug": "uno"}, 409)  # the new one is held
    assert api("PUT", f"{base}/{one['id']}", {"name": "Uno"}, 200)["slug"] == "uno"  # a rename keeps the slug
    api("PUT", f"{base}/{one['id']}", {"slug": None}, 400)  # a slug is never cleared
    api("PUT", f"{base}/{one['id']}", {"slug": "Bad Slug"}, 400)
    api("DELETE", f"{base}/{one['id']}", expect=204)
    assert api("POST", base, {"name": "Four", "slug": "uno"}, 201)["slug"] == "uno"  # freed by the delete
    noun = "brand" if base == B else "category"
    update = api.events(action=f"{noun}.updated", resource_id=one["id"])[-1]
    assert update["changes"]["slug"] == {"before": "one", "after": "uno"}
    created = api.events(action=f"{noun}.created", resource_id=two["id"])[0]
    assert created["changes"]["slug"] == {"before": None, "after": "two"}


def test_slugs_are_unique_per_tenant_and_org_only(client: Any, keys: tuple[Path, Path], scope: Scope) -> None:
    mine = JsonApi(client, headers(keys[0], scope))
    other_tenant = JsonApi(client, headers(keys[0], new_scope()))
    other_org = JsonApi(client, headers(keys[0], Scope(tenant_id=scope.tenant_id, org_id=new_scope().org_id)))
    for base in (B, C):
        assert mine("POST", base, {"name": "Acme", "slug": "acme"}, 201)["slug"] == "acme"
        assert other_tenant("POST", base, {"name": "Acme", "slug": "acme"}, 201)["slug"] == "acme"
        assert other_org("POST", base, {"name": "Acme"}, 201)["slug"] == "acme"
        mine("POST", base, {"name": "Acme 2", "slug": "acme"}, 409)


# --- slugs under concurrent creates ----------------------------------------------------------
def admin(scope: Scope) -> Principal:
    return Principal(email="admin@example.com", role=Role.ADMIN, scope=scope)


class RivalFirst(FirestoreCatalogStore):
    """A store that lets a rival's create commit between our checks and our commit: the
    interleaving a pre-check alone cannot catch."""

    def __init__(self, scope: Scope, rival: Any) -> None:
        super().__init__(wiring.firestore_client(), scope)
        self.rival = rival

    def commit(self, writes: list[Write], events: list[AuditEvent]) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        super().commit(writes, events)


@pytest.mark.parametrize(("taxon", "fields"), [(BRANDS, BrandFields), (CATEGORIES, CategoryFields)])
def test_a_given_slug_taken_between_check_and_commit_is_409_and_writes_nothing(
    scope: Scope, taxon: Any, fields: Any
) -> None:
    plain = Taxonomy(FirestoreCatalogStore(wiring.firestore_client(), scope), wiring.utc_now, taxon)
    raced = Taxonomy(
        RivalFirst(scope, lambda: plain.create(admin(scope), fields(name="Rival", slug="same"))), wiring.utc_now, taxon
    )
    with pytest.raises(ConflictError, match="slug 'same'"):
        raced.create(admin(scope), fields(name="Mine", slug="same"))
    assert [(x.name, x.slug) for x in plain.list(100, None).items] == [("Rival", "same")]


def test_a_derived_slug_taken_between_check_and_commit_takes_the_next(scope: Scope) -> None:
    plain = Taxonomy(FirestoreCatalogStore(wiring.firestore_client(), scope), wiring.utc_now, BRANDS)
    raced = Taxonomy(
        RivalFirst(scope, lambda: plain.create(admin(scope), BrandFields(name="Knitwear?"))), wiring.utc_now, BRANDS
    )
    mine = raced.create(admin(scope), BrandFields(name="Knitwear!"))
    assert mine.slug == "knitwear-2"
    assert sorted(x.slug for x in plain.list(100, None).items) == ["knitwear", "knitwear-2"]


def test_concurrent_creates_of_one_slug_make_exactly_one(app: Any, keys: tuple[Path, Path], scope: Scope) -> None:
    hdrs = headers(keys[0], scope)
    start = threading.Barrier(6)
    statuses: list[int] = []

    def create(i: int) -> None:
        client = app.test_client()
        start.wait(30)
        resp = client.post(B, json={"name": f"Brand {i}", "slug": "contested"}, headers=hdrs)
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(statuses) == [201] + [409] * 5
    listed = app.test_client().get(B, headers=hdrs).get_json()["items"]
    assert [b["slug"] for b in listed] == ["contested"]


# --- brand logos -----------------------------------------------------------------------------
def test_a_brand_logo_is_an_https_url_set_changed_and_cleared(api: JsonApi) -> None:
    logo = "https://cdn.example.com/logos/acme.png?v=2"
    acme = api("POST", B, {"name": "Acme", "logo_url": logo}, 201)
    assert acme["logo_url"] == logo and api("GET", f"{B}/{acme['id']}", expect=200)["logo_url"] == logo
    assert api("PUT", f"{B}/{acme['id']}", {"logo_url": "https://cdn.example.com/new.svg"}, 200)["logo_url"] == (
        "https://cdn.example.com/new.svg"
    )
    assert api("PUT", f"{B}/{acme['id']}", {"logo_url": None}, 200)["logo_url"] is None
    change = api.events(action="brand.updated", resource_id=acme["id"])[0]["changes"]
    assert change == {"logo_url": {"before": "https://cdn.example.com/new.svg", "after": None}}
    api("POST", C, {"name": "Tools", "logo_url": logo}, 400)  # a category has no logo


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/logo.png",
        "ftp://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "https://",
        "https:///logo.png",
        "cdn.example.com/logo.png",
        "https://cdn.example.com/a logo.png",
        "https://cdn.example.com/\nlogo.png",
        "https://[::1/logo.png",
        "https://cdn.example.com/" + "a" * 2030,
        "",
        42,
    ],
)
def test_bad_logo_urls_are_400(api: JsonApi, url: Any) -> None:
    error = api("POST", B, {"name": "Acme", "logo_url": url}, 400)
    assert error["details"][0]["field"] == "logo_url"
    acme = api("POST", B, {"name": "Acme"}, 201)
    assert api("PUT", f"{B}/{acme['id']}", {"logo_url": url}, 400)["details"][0]["field"] == "logo_url"
    assert api("GET", f"{B}/{acme['id']}", expect=200)["logo_url"] is None


# --- variants --------------------------------------------------------------------------------
def test_variants_carry_options_cost_prices_and_their_own_scores(api: JsonApi) -> None:
    pid = api("POST", P, {"title": "Shirt"}, 201)["id"]
    red = api(
        "POST",
        f"{P}/{pid}/variants",
        {
            "sku": "SH-R-S",
            "price": 19.99,
            "cost_price": "7.125",
            "currency": "EUR",
            "option_values": {"color": " Red ", "size": "S"},
        },
        201,
    )
    assert (red["option_values"], red["cost_price"], red["price"]) == ({"color": "Red", "size": "S"}, "7.125", "19.99")
    assert red["data_quality_score"] == 20 + 20 + 20 + 10  # sku, price, options, cost price
    bare = api("POST", f"{P}/{pid}/variants", {}, 201)
    assert (bare["option_values"], bare["cost_price"], bare["data_quality_score"]) == ({}, None, 0)
    api("POST", f"{P}/{pid}/variants", {}, 201)  # any number of variants may have no options
    blue = api("POST", f"{P}/{pid}/variants", {"option_values": {"color": "Blue", "size": "S"}}, 201)
    changed = api("PUT", f"{P}/{pid}/variants/{blue['id']}", {"barcode": "4006381333931", "cost_price": 3}, 400)
    assert changed["details"][0]["problem"] == "a price needs its currency"
    changed = api(
        "PUT", f"{P}/{pid}/variants/{blue['id']}", {"barcode": "4006381333931", "cost_price": 3, "currency": "EUR"}, 200
    )
    assert (changed["cost_price"], changed["data_quality_score"]) == ("3", 20 + 20 + 10)
    assert api("GET", f"{P}/{pid}/variants/{blue['id']}", expect=200) == changed
    cleared = api("PUT", f"{P}/{pid}/variants/{blue['id']}", {"option_values": None, "cost_price": None}, 200)
    assert (cleared["option_values"], cleared["cost_price"], cleared["data_quality_score"]) == ({}, None, 20)
    update = api.events(action="variant.updated", resource_id=blue["id"])[0]["changes"]
    assert update["option_values"] == {"before": {"color": "Blue", "size": "S"}, "after": {}}
    assert update["cost_price"] == {"before": "3", "after": None}
    created = api.events(action="variant.created", resource_id=red["id"])[0]["changes"]
    assert created["option_values"]["after"] == {"color": "Red", "size": "S"}
    assert created["cost_price"]["after"] == "7.125" and "data_quality_score" not in created  # bookkeeping


def test_two_variants_of_a_product_may_not_share_options(api: JsonApi) -> None:
    pid = api("POST", P, {"title": "Shirt"}, 201)["id"]
    red = api("POST", f"{P}/{pid}/variants", {"option_values": {"color": "Red", "size": "S"}}, 201)
    clash = api("POST", f"{P}/{pid}/variants", {"option_values": {"size": "s", "color": " RED"}}, 400)
    assert clash["details"][0]["field"] == "option_values" and red["id"] in clash["details"][0]["problem"]
    blue = api("POST", f"{P}/{pid}/variants", {"option_values": {"color": "Blue", "size": "S"}}, 201)
    clash = api("PUT", f"{P}/{pid}/variants/{blue['id']}", {"option_values": {"color": "red", "size": "S"}}, 400)
    assert red["id"] in clash["details"][0]["problem"]
    assert len(api("GET", f"{P}/{pid}/variants", expect=200)["items"]) == 2
    # Another product may have the same options, and a subset is not the same.
    other = api("POST", P, {"title": "Other"}, 201)["id"]
    api("POST", f"{P}/{other}/variants", {"option_values": {"color": "Red", "size": "S"}}, 201)
    api("POST", f"{P}/{pid}/variants", {"option_values": {"color": "Red"}}, 201)
    # A variant changed to its own options again is no clash with itself.
    api("PUT", f"{P}/{pid}/variants/{red['id']}", {"option_values": {"color": "Red", "size": "S"}, "sku": "R"}, 200)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cost_price": "cheap", "currency": "EUR"}, "cost_price"),
        ({"cost_price": -1, "currency": "EUR"}, "cost_price"),
        ({"cost_price": 1.23456, "currency": "EUR"}, "cost_price"),
        ({"cost_price": 5}, "body"),
        ({"option_values": {"Color": "Red"}}, "option_values"),
        ({"option_values": {"col or": "Red"}}, "option_values"),
        ({"option_values": {"color": ""}}, "option_values"),
        ({"option_values": {"color": "  "}}, "option_values"),
        ({"option_values": {"color": 3}}, "option_values"),
        ({"option_values": {"color": "x" * 201}}, "option_values"),
        ({"option_values": {"c" * 65: "x"}}, "option_values"),
        ({"option_values": {f"o{i}": "x" for i in range(21)}}, "option_values"),
        ({"option_values": ["color", "Red"]}, "option_values"),
        ({"data_quality_score": 100}, "data_quality_score"),
    ],
)
def test_bad_variant_options_and_cost_prices_are_400(api: JsonApi, body: dict[str, Any], field: str) -> None:
    pid = api("POST", P, {"title": "Shirt"}, 201)["id"]
    error = api("POST", f"{P}/{pid}/variants", body, 400)
    assert any(d["field"].startswith(field) for d in error["details"]), error
    assert api("GET", f"{P}/{pid}/variants", expect=200)["items"] == []
