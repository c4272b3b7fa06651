"""Another tenant's or another org's data, for every route: 404 for a record, only the caller's own
records in a list, NOT_FOUND for each bulk item, and nothing of the owner's changed. Intruders come
in three kinds, so that a scope keyed by tenant alone or by org alone cannot pass."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from functions.openapi import APIS
from shared.domain.tenancy import Scope
from tests.integration.conftest import LISTED, SETTINGS, B, JobsApi, World
from tests.support import headers, new_scope

# method, route (as declared), body, status for an ADMIN of another scope.
TABLE: list[tuple[str, str, Any, int]] = [
    ("GET", f"{B}/bulk-jobs", None, 200),
    ("POST", f"{B}/bulk-jobs", {"job_type": "BULK_IMPORT", "payload": [{"title": "The intruder's"}]}, 200),
    ("GET", f"{B}/bulk-jobs/<job_id>", None, 404),
    ("GET", f"{B}/bulk-jobs/<job_id>/errors", None, 404),
    ("POST", f"{B}/uploads", {"filename": "intruder.csv", "format": "CSV"}, 201),
    ("GET", f"{B}/uploads/<upload_id>", None, 404),
    ("POST", f"{B}/bulk-jobs/<job_id>/cancel", None, 404),
    ("GET", f"{B}/products", None, 200),
    ("POST", f"{B}/products", {"title": "The intruder's", "sku": "DL-1"}, 201),
    ("GET", f"{B}/products/<product_id>", None, 404),
    ("PUT", f"{B}/products/<product_id>", {"title": "Hijacked"}, 404),
    ("GET", f"{B}/products/<product_id>/variants", None, 404),
    ("POST", f"{B}/products/<product_id>/variants", {"sku": "HIJACK"}, 404),
    ("GET", f"{B}/products/<product_id>/variants/<variant_id>", None, 404),
    ("PUT", f"{B}/products/<product_id>/variants/<variant_id>", {"sku": "HIJACK"}, 404),
    ("GET", f"{B}/brands", None, 200),
    ("POST", f"{B}/brands", {"name": "Acme"}, 201),  # names are unique within a scope only
    ("GET", f"{B}/brands/<brand_id>", None, 404),
    ("PUT", f"{B}/brands/<brand_id>", {"name": "Hijacked"}, 404),
    ("GET", f"{B}/categories", None, 200),
    ("POST", f"{B}/categories", {"name": "Tools"}, 201),
    ("GET", f"{B}/categories/<category_id>", None, 404),
    ("PUT", f"{B}/categories/<category_id>", {"name": "Hijacked"}, 404),
    ("GET", f"{B}/attributes", None, 200),
    ("POST", f"{B}/attributes", {"name": "Weight", "slug": "weight", "type": "TEXT"}, 201),  # slugs: per scope
    ("GET", f"{B}/attributes/<attribute_id>", None, 404),
    ("PUT", f"{B}/attributes/<attribute_id>", {"name": "Hijacked"}, 404),
    ("GET", f"{B}/product-templates", None, 200),
    ("POST", f"{B}/product-templates", {"name": "Apparel", "slug": "apparel"}, 201),
    ("GET", f"{B}/product-templates/<product_template_id>", None, 404),
    ("PUT", f"{B}/product-templates/<product_template_id>", {"name": "Hijacked"}, 404),
    ("GET", f"{B}/audit-logs", None, 200),
    ("GET", f"{B}/validation-issues", None, 200),
    ("GET", f"{B}/stats", None, 200),  # the intruder's own figures (below: the owner's unchanged)
    ("POST", f"{B}/exports", None, 202),
    ("GET", f"{B}/exports/<export_id>", None, 404),
    ("GET", f"{B}/exports", None, 200),
    ("GET", f"{B}/settings/notifications", None, 404),  # the owner's are not the intruder's
    ("PUT", f"{B}/settings/notifications", {**SETTINGS, "emails": ["intruder@example.com"]}, 200),
    ("DELETE", f"{B}/products/<product_id>/variants/<variant_id>", None, 404),
    ("DELETE", f"{B}/products/<product_id>", None, 404),
    ("DELETE", f"{B}/brands/<brand_id>", None, 404),
    ("DELETE", f"{B}/categories/<category_id>", None, 404),
    ("DELETE", f"{B}/product-templates/<product_template_id>", None, 404),
    ("DELETE", f"{B}/attributes/<attribute_id>", None, 404),
]


def test_the_table_names_every_route_once() -> None:
    listed = [(method, route) for method, route, *_ in TABLE]
    assert len(listed) == len(set(listed))
    assert set(listed) == {(r.method, r.path) for api in APIS for r in api.routes}


@pytest.fixture(params=["other tenant and org", "same tenant, other org", "other tenant, same org"])
def intruder(request: pytest.FixtureRequest, scope: Scope) -> Scope:
    other = new_scope()
    return {
        "other tenant and org": other,
        "same tenant, other org": Scope(tenant_id=scope.tenant_id, org_id=other.org_id),
        "other tenant, same org": Scope(tenant_id=other.tenant_id, org_id=scope.org_id),
    }[request.param]


def test_another_scope_reaches_nothing_of_the_owners(
    world: World, client: Any, keys: tuple[Path, Path], intruder: Scope
) -> None:
    before = world.snapshot()
    hdrs = headers(keys[0], intruder, email="intruder@example.com")
    answers = world.answers(TABLE, hdrs)
    assert {key: resp.status_code for key, resp in answers.items()} == {(m, r): status for m, r, _, status in TABLE}
    # Another scope's record is indistinguishable from one that does not exist.
    for (method, route), resp in answers.items():
        if resp.status_code == 404 and "<" in route:
            absent = re.sub(r"<\w+>", lambda _: str(uuid.uuid4()), route)
            body = next(row[2] for row in TABLE if row[:2] == (method, route))
            assert resp.get_json() == client.open(absent, method=method, json=body, headers=world.admin).get_json()

    # Bulk jobs of the intruder's cannot reach the owner's product either: each item NOT_FOUND.
    product = world.ids["product_id"]
    jobs = JobsApi(client, hdrs)
    for job_type, item in [("BULK_UPDATE", {"id": product, "title": "Hijacked"}), ("BULK_DELETE", product)]:
        job = jobs.run(job_type, [item])
        assert (job["status"], job["processed_items"], [e["code"] for e in job["errors"]]) == (
            "FAILED",
            0,
            ["NOT_FOUND"],
        )

    assert world.snapshot() == before
    # What the intruder lists is its own only.
    owners = {str(v) for v in world.ids.values()} | {e["id"] for e in before["audit-logs"]["items"]}
    for name in LISTED:
        listed = client.get(f"{B}/{name}", headers=hdrs).get_json()["items"]
        assert not owners & {str(i.get("id")) for i in listed}, name
        assert all(i.get("tenant_id", intruder.tenant_id) == intruder.tenant_id for i in listed), name
        assert all(i.get("org_id", intruder.org_id) == intruder.org_id for i in listed), name
