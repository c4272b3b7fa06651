"""Typed attributes, a product template and completeness, tried over HTTP against the local stack
as a new user would (issue 15, "Done when")."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from local.stack import LocalStack
from synq.client import SynqClient
from tests.support import wait_until

pytestmark = pytest.mark.emulators


def call(api: SynqClient, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    resp: requests.Response = api.http.request(method, f"{api.base}/api/v1/pim{path}", json=body, timeout=30)
    assert resp.status_code == expect, resp.text[:500]
    return resp.json() if resp.content else None


def test_define_attributes_and_a_template_import_1000_then_fill_what_is_missing(
    stack: LocalStack, api: SynqClient
) -> None:
    call(
        api,
        "POST",
        "/attributes",
        {"name": "Weight", "slug": "weight", "type": "NUMBER", "unit": "kg", "min": 0, "max": 1000},
        201,
    )
    call(api, "POST", "/attributes", {"name": "Material", "slug": "material", "type": "TEXT"}, 201)
    required = [{"slug": "weight", "required": True}, {"slug": "material", "required": True}]
    template = call(
        api,
        "POST",
        "/product-templates",
        {
            "name": "Apparel",
            "slug": "apparel",
            "attribute_groups": [{"name": "Fabric Details", "attributes": required}],
        },
        201,
    )

    payload: list[dict[str, Any]] = []
    for i in range(1000):
        attributes: dict[str, Any] = {"weight": round(0.1 + i / 100, 2)}
        if i % 4:  # every fourth lacks material
            attributes["material"] = "Cotton"
        payload.append(
            {"title": f"Shirt {i:04d}", "sku": f"SH-{i:04d}", "template_id": template["id"], "attributes": attributes}
        )
    payload[500]["attributes"]["weight"] = "heavy"
    job = api.wait_for_job(api.create_job("BULK_IMPORT", payload=payload).id, interval=0.25)

    assert (job.status, job.processed_items, job.failed_items) == ("COMPLETED", 999, 1)
    [error] = list(api.job_errors(job.id))
    assert (error["index"], error["code"]) == (500, "INVALID_ITEM")
    assert error["message"].startswith("attributes.weight: must be a number (in kg)")

    products = {p["title"]: p for p in api.list_products(limit=2000)}
    assert len(products) == 999 and "Shirt 0500" not in products
    lacking = {p["id"] for t, p in products.items() if int(t[-4:]) % 4 == 0}
    assert len(lacking) == 249  # 250 lacked it, the refused 500th among them
    assert {p["completeness"] for p in products.values() if p["id"] in lacking} == {50}
    assert {p["completeness"] for p in products.values() if p["id"] not in lacking} == {100}
    missing = list(api.list_issues(code="MISSING_REQUIRED_ATTRIBUTE", limit=2000))
    assert {i["product_id"] for i in missing} == lacking
    assert {(i["severity"], i["field"]) for i in missing} == {("WARNING", "attributes.material")}

    fixes = [{"id": pid, "attributes": {"weight": 1, "material": "Linen"}} for pid in sorted(lacking)]
    update = api.wait_for_job(api.create_job("BULK_UPDATE", payload=fixes).id, interval=0.25)
    assert (update.status, update.processed_items, update.failed_items) == ("COMPLETED", 249, 0)
    assert list(api.list_issues(code="MISSING_REQUIRED_ATTRIBUTE", limit=2000)) == []
    assert {p["completeness"] for p in api.list_products(limit=2000)} == {100}

    # A template change is re-evaluated in the background, page by page: a third required
    # attribute leaves every product two thirds complete, with an issue each.
    call(api, "POST", "/attributes", {"name": "Care", "slug": "care", "type": "TEXT"}, 201)
    groups = [{"name": "Fabric Details", "attributes": [*required, {"slug": "care", "required": True}]}]
    call(api, "PUT", f"/product-templates/{template['id']}", {"attribute_groups": groups})

    def reevaluated() -> bool | None:
        done = {p["completeness"] for p in api.list_products(limit=2000)} == {67}
        return (done and len(list(api.list_issues(code="MISSING_REQUIRED_ATTRIBUTE", limit=2000))) == 999) or None

    wait_until(reevaluated, timeout=120)
