"""Products, variants, brands and categories one record at a time, each change audited."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import headers, new_scope

P = "/api/v1/pim/products"
C = "/api/v1/pim/categories"


class Api:
    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client, self.auth = client, auth

    def __call__(self, method: str, path: str, body: Any = None, expect: int | None = None, **kw: Any) -> Any:
        resp = self.client.open(path, method=method, json=body, headers=self.auth, **kw)
        if expect is not None:
            assert resp.status_code == expect, resp.get_data(as_text=True)[:400]
        return resp

    def ok(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        return self(method, path, body, expect).get_json()

    def events(self, **filters: str) -> list[dict[str, Any]]:
        return self.ok("GET", "/api/v1/pim/audit-logs?" + "&".join(f"{k}={v}" for k, v in filters.items()))["items"]


@pytest.fixture()
def api(client: Any, auth: dict[str, str]) -> Api:
    return Api(client, auth)


def test_a_product_is_created_read_changed_and_deleted_with_each_step_audited(api: Api, scope: Any) -> None:
    created = api.ok("POST", P, {"title": "Desk Lamp", "sku": "DL-1", "description": "Bright"}, 201)
    assert (created["status"], created["tenant_id"], created["variants"]) == ("ACTIVE", scope.tenant_id, [])
    pid = created["id"]
    assert api.ok("GET", f"{P}/{pid}") == created
    changed = api.ok("PUT", f"{P}/{pid}", {"title": "Desk Lamp XL", "description": None})
    assert (changed["title"], changed["description"], changed["sku"]) == ("Desk Lamp XL", None, "DL-1")
    assert api.ok("PUT", f"{P}/{pid}", {"sku": "DL-1"})["updated_at"] == changed["updated_at"]  # a no-op
    api("DELETE", f"{P}/{pid}", expect=204)
    api("GET", f"{P}/{pid}", expect=404)
    api("DELETE", f"{P}/{pid}", expect=404)
    assert api.ok("GET", P)["items"] == []

    events = api.events(resource_id=pid)
    assert [e["action"] for e in events] == ["product.deleted", "product.updated", "product.created"]
    assert all(e["actor_email"] == "tester@example.com" and e["job_id"] is None for e in events)
    assert events[1]["changes"] == {
        "title": {"before": "Desk Lamp", "after": "Desk Lamp XL"},
        "description": {"before": "Bright", "after": None},
    }
    assert events[2]["changes"]["title"] == {"before": None, "after": "Desk Lamp"}
    assert events[0]["changes"]["sku"] == {"before": "DL-1", "after": None}


def test_products_list_newest_first_with_a_cursor(api: Api) -> None:
    ids = [api.ok("POST", P, {"title": f"P{i}"}, 201)["id"] for i in range(5)]
    first = api.ok("GET", f"{P}?limit=3")
    second = api.ok("GET", f"{P}?limit=3&cursor={first['next_cursor']}")
    assert [p["id"] for p in first["items"] + second["items"]] == ids[::-1] and second["next_cursor"] is None
    exact = api.ok("GET", f"{P}?limit=5")  # a page that holds the rest exactly says there is no more
    assert ([p["id"] for p in exact["items"]], exact["next_cursor"]) == (ids[::-1], None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": "x", "status": "GONE"}, "status"),
        ({"title": "x", "brand_id": "no-such-brand"}, "brand_id"),
        ({"title": "x", "category_id": str(uuid.uuid4())}, "category_id"),
        ({"title": "x" * 501}, "title"),
        ({"title": "x", "attributes": {"a": [1, 2]}}, "attributes.a"),
    ],
)
def test_bad_product_bodies_are_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    error = api("POST", P, body, 400).get_json()
    assert any(d["field"].startswith(field) for d in error["details"]), error
    assert api.ok("GET", P)["items"] == [] and api.events() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"title": None}, "title"),
        ({"status": None}, "status"),
        ({"id": "x"}, "id"),
        ({"brand_id": "missing"}, "brand_id"),
    ],
)
def test_bad_product_changes_are_400_and_change_nothing(api: Api, body: dict[str, Any], field: str) -> None:
    product = api.ok("POST", P, {"title": "Keep"}, 201)
    error = api("PUT", f"{P}/{product['id']}", body, 400).get_json()
    assert any(d["field"].startswith(field) for d in error["details"]), error
    assert api.ok("GET", f"{P}/{product['id']}") == product


def test_non_json_bodies_are_rejected(api: Api, client: Any) -> None:
    assert client.post(P, data="{", headers={**api.auth, "Content-Type": "application/json"}).status_code == 400
    assert client.post(P, data="title=x", headers={**api.auth, "Content-Type": "text/plain"}).status_code == 415


def test_another_tenants_product_is_404_for_every_verb_and_untouched(
    api: Api, client: Any, keys: tuple[Path, Path]
) -> None:
    mine = api.ok("POST", P, {"title": "Mine"}, 201)
    intruder = Api(client, headers(keys[0], new_scope()))
    for method, body in [("GET", None), ("PUT", {"title": "Stolen"}), ("DELETE", None)]:
        intruder(method, f"{P}/{mine['id']}", body, 404)
    intruder("POST", f"{P}/{mine['id']}/variants", {"sku": "V"}, 404)
    intruder("GET", f"{P}/{mine['id']}/variants", expect=404)
    assert api.ok("GET", f"{P}/{mine['id']}") == mine
    assert intruder.events() == []


def test_variants_carry_exact_prices_and_checked_currencies(api: Api) -> None:
    pid = api.ok("POST", P, {"title": "Shirt"}, 201)["id"]
    v = api.ok("POST", f"{P}/{pid}/variants", {"sku": "SH-S", "price": 19.99, "currency": "eur"}, 201)
    assert (v["price"], v["currency"], v["product_id"]) == ("19.99", "EUR", pid)
    precise = api.ok("POST", f"{P}/{pid}/variants", {"sku": "SH-M", "price": 0.1, "currency": "USD"}, 201)
    assert precise["price"] == "0.1"
    assert (
        api.ok("POST", f"{P}/{pid}/variants", {"price": "1234567.8915", "currency": "JPY"}, 201)["price"]
        == "1234567.8915"
    )
    listed = api.ok("GET", f"{P}/{pid}/variants")["items"]
    assert [x["sku"] for x in listed] == ["SH-S", "SH-M", None]
    changed = api.ok("PUT", f"{P}/{pid}/variants/{v['id']}", {"price": 17.5})
    assert changed["price"] == "17.5" and api.ok("GET", f"{P}/{pid}/variants/{v['id']}") == changed
    api("DELETE", f"{P}/{pid}/variants/{v['id']}", expect=204)
    api("GET", f"{P}/{pid}/variants/{v['id']}", expect=404)
    api("DELETE", f"{P}/{pid}/variants/{v['id']}", expect=404)
    actions = [e["action"] for e in api.events(resource_type="variant")]
    assert actions == ["variant.deleted", "variant.updated", "variant.created", "variant.created", "variant.created"]
    update = api.events(action="variant.updated")[0]
    assert update["changes"] == {"price": {"before": "19.99", "after": "17.5"}} and update["parent_id"] == pid


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": 10}, "body"),
        ({"price": 10, "currency": "EURO"}, "currency"),
        ({"price": "ten", "currency": "EUR"}, "price"),
        ({"price": -1, "currency": "EUR"}, "price"),
        ({"price": 1.23456, "currency": "EUR"}, "price"),
        ({"sku": "x", "size": "M"}, "size"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
def test_bad_variants_are_400(api: Api, body: dict[str, Any], field: str) -> None:
    pid = api.ok("POST", P, {"title": "Shirt"}, 201)["id"]
    error = api("POST", f"{P}/{pid}/variants", body, 400).get_json()
    assert any(d["field"].startswith(field) for d in error["details"]), error
    assert api.ok("GET", f"{P}/{pid}/variants")["items"] == []


def test_a_variant_change_must_leave_the_variant_valid(api: Api) -> None:
    pid = api.ok("POST", P, {"title": "Shirt"}, 201)["id"]
    v = api.ok("POST", f"{P}/{pid}/variants", {"price": 5, "currency": "EUR"}, 201)
    api("PUT", f"{P}/{pid}/variants/{v['id']}", {"currency": None}, 400)
    api("PUT", f"{P}/{pid}/variants/{uuid.uuid4()!s}", {"sku": "x"}, 404)


def test_a_product_holds_at_most_100_variants(api: Api) -> None:
    pid = api.ok("POST", P, {"title": "Many"}, 201)["id"]
    for i in range(100):
        api("POST", f"{P}/{pid}/variants", {"sku": f"V{i}"}, 201)
    assert api("POST", f"{P}/{pid}/variants", {"sku": "V100"}, 409).get_json()["code"] == "CONFLICT"


def test_deleting_a_product_deletes_its_variants_and_records_them(api: Api) -> None:
    pid = api.ok("POST", P, {"title": "Shirt"}, 201)["id"]
    v = api.ok("POST", f"{P}/{pid}/variants", {"sku": "SH-S"}, 201)
    api("DELETE", f"{P}/{pid}", expect=204)
    api("GET", f"{P}/{pid}/variants/{v['id']}", expect=404)
    deleted = api.events(action="product.deleted")[0]
    assert [x["id"] for x in deleted["changes"]["variants"]["before"]] == [v["id"]]


def test_brands_are_unique_by_name_sorted_and_protected_while_used(api: Api) -> None:
    acme = api.ok("POST", "/api/v1/pim/brands", {"name": "Acme"}, 201)
    api.ok("POST", "/api/v1/pim/brands", {"name": "Zeta"}, 201)
    api.ok("POST", "/api/v1/pim/brands", {"name": "Beta"}, 201)
    assert api("POST", "/api/v1/pim/brands", {"name": "  ACME "}, 409).get_json()["code"] == "CONFLICT"
    assert [b["name"] for b in api.ok("GET", "/api/v1/pim/brands")["items"]] == ["Acme", "Beta", "Zeta"]
    page = api.ok("GET", "/api/v1/pim/brands?limit=2")
    assert [b["name"] for b in api.ok("GET", f"/api/v1/pim/brands?limit=2&cursor={page['next_cursor']}")["items"]] == [
        "Zeta"
    ]
    product = api.ok("POST", P, {"title": "Anvil", "brand_id": acme["id"]}, 201)
    api("DELETE", f"/api/v1/pim/brands/{acme['id']}", expect=409)
    api("PUT", f"/api/v1/pim/brands/{acme['id']}", {"name": "Beta"}, 409)
    assert api.ok("PUT", f"/api/v1/pim/brands/{acme['id']}", {"name": "Acme Corp"})["name"] == "Acme Corp"
    api.ok("POST", "/api/v1/pim/brands", {"name": "Acme"}, 201)  # the old name is free again
    api("DELETE", f"{P}/{product['id']}", expect=204)
    api("DELETE", f"/api/v1/pim/brands/{acme['id']}", expect=204)
    assert [e["action"] for e in api.events(resource_id=acme["id"])] == [
        "brand.deleted",
        "brand.updated",
        "brand.created",
    ]


def test_categories_nest_by_parent_without_cycles(api: Api) -> None:
    tools = api.ok("POST", C, {"name": "Tools"}, 201)
    power = api.ok("POST", C, {"name": "Power", "parent_id": tools["id"]}, 201)
    drills = api.ok("POST", C, {"name": "Drills", "parent_id": power["id"]}, 201)
    api.ok("POST", C, {"name": "Power"}, 201)  # the same name under another parent is fine
    api("POST", C, {"name": "power", "parent_id": tools["id"]}, 409)
    assert (
        api("POST", C, {"name": "X", "parent_id": str(uuid.uuid4())}, 400).get_json()["details"][0]["field"]
        == "parent_id"
    )
    api("PUT", f"{C}/{tools['id']}", {"parent_id": drills["id"]}, 400)  # would make a cycle
    api("PUT", f"{C}/{tools['id']}", {"parent_id": tools["id"]}, 400)
    api("DELETE", f"{C}/{power['id']}", expect=409)  # has subcategories
    api.ok("POST", P, {"title": "Drill", "category_id": drills["id"]}, 201)
    api("DELETE", f"{C}/{drills['id']}", expect=409)  # products use it
    assert [c["name"] for c in api.ok("GET", C)["items"]] == ["Drills", "Power", "Power", "Tools"]
    moved = api.ok("PUT", f"{C}/{drills['id']}", {"parent_id": tools["id"]})
    assert moved["parent_id"] == tools["id"]
    api("DELETE", f"{C}/{power['id']}", expect=204)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/pim/brands", {}, "name"),
        ("/api/v1/pim/brands", {"name": ""}, "name"),
        ("/api/v1/pim/brands", {"name": "x", "logo": 1}, "logo"),
        ("/api/v1/pim/categories", {"name": " "}, "name"),
    ],
)
def test_bad_brand_and_category_bodies_are_400(api: Api, path: str, body: dict[str, Any], field: str) -> None:
    error = api("POST", path, body, 400).get_json()
    assert error["details"][0]["field"] == field
    assert api.ok("GET", path)["items"] == []
