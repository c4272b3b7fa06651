"""What each role may do to resources that exist. The status every route answers a VIEWER and an
EDITOR is written out here, route by route, rather than read from the route's own flags: a route
that lost its `write` or `admin` flag must fail this test, not change what it expects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from functions.openapi import APIS
from shared.domain.tenancy import Scope
from tests.integration.conftest import JobsApi
from tests.support import headers, wait_until

B = "/api/v1/pim"
SETTINGS = {"channel": "email", "emails": ["owner@example.com"]}

# method, route (as declared), body, VIEWER's status, EDITOR's status. Every body is valid, so a
# role check that let the call through would answer 2xx. Deletes come last: they take the
# resources away.
TABLE: list[tuple[str, str, Any, int, int]] = [
    ("GET", f"{B}/bulk-jobs", None, 200, 200),
    ("POST", f"{B}/bulk-jobs", {"job_type": "BULK_IMPORT", "payload": [{"title": "By role"}]}, 403, 200),
    ("GET", f"{B}/bulk-jobs/<job_id>", None, 200, 200),
    ("GET", f"{B}/bulk-jobs/<job_id>/errors", None, 200, 200),
    ("GET", f"{B}/products", None, 200, 200),
    ("POST", f"{B}/products", {"title": "By role"}, 403, 201),
    ("GET", f"{B}/products/<product_id>", None, 200, 200),
    ("PUT", f"{B}/products/<product_id>", {"title": "Renamed by role"}, 403, 200),
    ("GET", f"{B}/products/<product_id>/variants", None, 200, 200),
    ("POST", f"{B}/products/<product_id>/variants", {"sku": "BY-ROLE"}, 403, 201),
    ("GET", f"{B}/products/<product_id>/variants/<variant_id>", None, 200, 200),
    ("PUT", f"{B}/products/<product_id>/variants/<variant_id>", {"sku": "DL-1-M"}, 403, 200),
    ("GET", f"{B}/brands", None, 200, 200),
    ("POST", f"{B}/brands", {"name": "By role"}, 403, 201),
    ("GET", f"{B}/brands/<doc_id>", None, 200, 200),
    ("PUT", f"{B}/brands/<doc_id>", {"name": "Acme Renamed"}, 403, 200),
    ("GET", f"{B}/categories", None, 200, 200),
    ("POST", f"{B}/categories", {"name": "By role"}, 403, 201),
    ("GET", f"{B}/categories/<doc_id>", None, 200, 200),
    ("PUT", f"{B}/categories/<doc_id>", {"name": "Tools Renamed"}, 403, 200),
    ("GET", f"{B}/audit-logs", None, 200, 200),
    ("GET", f"{B}/validation-issues", None, 200, 200),
    ("POST", f"{B}/exports", {"format": "CSV"}, 403, 202),
    ("GET", f"{B}/exports/<export_id>", None, 200, 200),
    ("GET", f"{B}/exports", None, 200, 200),
    ("GET", f"{B}/settings/notifications", None, 200, 200),
    ("PUT", f"{B}/settings/notifications", {"channel": "email", "emails": ["role@example.com"]}, 403, 403),
    ("DELETE", f"{B}/products/<product_id>/variants/<variant_id>", None, 403, 204),
    ("DELETE", f"{B}/products/<product_id>", None, 403, 204),
    ("DELETE", f"{B}/brands/<doc_id>", None, 403, 204),
    ("DELETE", f"{B}/categories/<doc_id>", None, 403, 204),
]


def test_the_table_names_every_route_once() -> None:
    """A new route must be added above with the statuses its roles should get."""
    listed = [(method, route) for method, route, *_ in TABLE]
    assert len(listed) == len(set(listed))
    assert set(listed) == {(r.method, r.path) for api in APIS for r in api.routes}


class World:
    """A tenant's resources, made by its ADMIN: a brand, a category, a product with a variant, a
    finished bulk job, a finished export (nobody to tell yet) and notification settings."""

    def __init__(self, client: Any, keys: tuple[Path, Path], scope: Scope) -> None:
        self.client, self.keys, self.scope = client, keys, scope
        self.admin = headers(keys[0], scope, role="ADMIN", email="admin@example.com")
        jobs = JobsApi(client, self.admin)
        self.ids = {
            "job_id": jobs.run("BULK_IMPORT", [{"title": "From a job"}, {"sku": "no title"}])["id"],
            "brand": self.made("POST", f"{B}/brands", {"name": "Acme"}),
            "category": self.made("POST", f"{B}/categories", {"name": "Tools"}),
            "product_id": self.made("POST", f"{B}/products", {"title": "Desk Lamp", "sku": "DL-1"}),
        }
        self.ids["variant_id"] = self.made("POST", self.path(f"{B}/products/<product_id>/variants"), {"sku": "DL-1-S"})
        self.ids["export_id"] = self.made("POST", f"{B}/exports", {"format": "NDJSON"})
        wait_until(lambda: self.notification() not in (None, "PENDING"), 60)
        assert self.call("PUT", f"{B}/settings/notifications", SETTINGS, self.admin).status_code == 200

    def notification(self) -> str | None:
        note = self.get(self.path(f"{B}/exports/<export_id>"))["notification"]
        return note and note["status"]

    def path(self, route: str) -> str:
        doc = self.ids["brand"] if "/brands/" in route else self.ids["category"]
        return re.sub(r"<(\w+)>", lambda m: doc if m[1] == "doc_id" else self.ids[m[1]], route)

    def call(self, method: str, path: str, body: Any, hdrs: dict[str, str]) -> Any:
        return self.client.open(path, method=method, json=body, headers=hdrs)

    def made(self, method: str, path: str, body: Any) -> str:
        resp = self.call(method, path, body, self.admin)
        assert resp.status_code in (201, 202), resp.get_data(as_text=True)[:300]
        return str(resp.get_json()["id"])

    def get(self, path: str) -> Any:
        resp = self.call("GET", path, None, self.admin)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.get_json()

    def snapshot(self) -> dict[str, Any]:
        """Everything a write could have changed, as the ADMIN reads it."""
        lists = ["products", "brands", "categories", "exports", "audit-logs", "settings/notifications"]
        state = {name: self.get(f"{B}/{name}") for name in lists}
        for job_type in ("BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"):
            state[job_type] = self.get(f"{B}/bulk-jobs?type={job_type}")
        state["variants"] = self.get(self.path(f"{B}/products/<product_id>/variants"))
        return state

    def statuses(self, role: str) -> dict[tuple[str, str], int]:
        hdrs = headers(self.keys[0], self.scope, role=role, email=f"{role.lower()}@example.com")
        return {(m, route): self.call(m, self.path(route), body, hdrs).status_code for m, route, body, *_ in TABLE}


@pytest.fixture()
def world(client: Any, keys: tuple[Path, Path], scope: Scope) -> World:
    return World(client, keys, scope)


def test_a_viewer_reads_everything_and_changes_nothing(world: World) -> None:
    before = world.snapshot()
    assert world.statuses("VIEWER") == {(m, route): viewer for m, route, _, viewer, _ in TABLE}
    assert world.snapshot() == before


def test_an_editor_changes_the_catalog_but_not_the_admins_settings(world: World) -> None:
    settings = world.get(f"{B}/settings/notifications")
    assert world.statuses("EDITOR") == {(m, route): editor for m, route, _, _, editor in TABLE}
    assert world.get(f"{B}/settings/notifications") == settings
    # The same body from the ADMIN is accepted: the EDITOR was refused for its role alone.
    [(_, route, body, *_)] = [row for row in TABLE if row[:2] == ("PUT", f"{B}/settings/notifications")]
    assert world.call("PUT", route, body, world.admin).status_code == 200
