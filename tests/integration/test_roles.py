"""What each role may do to resources that exist. The status every route answers a VIEWER and an
EDITOR is written out here, route by route, rather than read from the route's own flags: a route
that lost its `write` or `admin` flag must fail this test, not change what it expects."""

from __future__ import annotations

import json
from typing import Any

from functions.openapi import APIS
from tests.integration.conftest import B, World
from tests.support import headers

# method, route (as declared), body, VIEWER's status, EDITOR's status. Every body is valid, so a
# role check that let the call through would answer 2xx. Deletes come last: they take the
# resources away.
TABLE: list[tuple[str, str, Any, int, int]] = [
    ("GET", f"{B}/bulk-jobs", None, 200, 200),
    ("POST", f"{B}/bulk-jobs", {"job_type": "BULK_IMPORT", "payload": [{"title": "By role"}]}, 403, 200),
    ("GET", f"{B}/bulk-jobs/<job_id>", None, 200, 200),
    ("GET", f"{B}/bulk-jobs/<job_id>/errors", None, 200, 200),
    ("POST", f"{B}/uploads", {"filename": "by-role.csv", "format": "CSV"}, 403, 201),
    ("GET", f"{B}/uploads/<upload_id>", None, 200, 200),
    ("POST", f"{B}/bulk-jobs/<job_id>/cancel", None, 403, 409),  # the world's job is finished
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
    ("GET", f"{B}/brands/<brand_id>", None, 200, 200),
    ("PUT", f"{B}/brands/<brand_id>", {"name": "Acme Renamed"}, 403, 200),
    ("GET", f"{B}/categories", None, 200, 200),
    ("POST", f"{B}/categories", {"name": "By role"}, 403, 201),
    ("GET", f"{B}/categories/<category_id>", None, 200, 200),
    ("PUT", f"{B}/categories/<category_id>", {"name": "Tools Renamed"}, 403, 200),
    ("GET", f"{B}/audit-logs", None, 200, 200),
    ("GET", f"{B}/validation-issues", None, 200, 200),
    ("GET", f"{B}/stats", None, 200, 200),
    ("POST", f"{B}/exports", {"format": "CSV"}, 403, 202),
    ("GET", f"{B}/exports/<export_id>", None, 200, 200),
    ("GET", f"{B}/exports", None, 200, 200),
    ("GET", f"{B}/settings/notifications", None, 200, 200),
    ("PUT", f"{B}/settings/notifications", {"channel": "email", "emails": ["role@example.com"]}, 403, 403),
    ("DELETE", f"{B}/products/<product_id>/variants/<variant_id>", None, 403, 204),
    ("DELETE", f"{B}/products/<product_id>", None, 403, 204),
    ("DELETE", f"{B}/brands/<brand_id>", None, 403, 204),
    ("DELETE", f"{B}/categories/<category_id>", None, 403, 204),
]


def test_the_table_names_every_route_once() -> None:
    """A new route must be added above with the statuses its roles should get."""
    listed = [(method, route) for method, route, *_ in TABLE]
    assert len(listed) == len(set(listed))
    assert set(listed) == {(r.method, r.path) for api in APIS for r in api.routes}


def as_role(world: World, role: str) -> dict[str, str]:
    return headers(world.keys[0], world.scope, role=role, email=f"{role.lower()}@example.com")


def test_a_viewer_reads_everything_and_changes_nothing(world: World) -> None:
    before = world.snapshot()
    answers = world.answers(TABLE, as_role(world, "VIEWER"))
    assert {key: resp.status_code for key, resp in answers.items()} == {
        (m, route): viewer for m, route, _, viewer, _ in TABLE
    }
    # Every refusal came from the write guard (admin routes included), naming the reader's role.
    refused = {resp.get_data(as_text=True) for resp in answers.values() if resp.status_code == 403}
    assert [json.loads(body) for body in refused] == [
        {"error": "role VIEWER may only read", "code": "PERMISSION_DENIED"}
    ]
    assert world.snapshot() == before


def test_an_editor_changes_the_catalog_but_not_the_admins_settings(world: World) -> None:
    settings = world.get(f"{B}/settings/notifications")
    answers = world.answers(TABLE, as_role(world, "EDITOR"))
    assert {key: resp.status_code for key, resp in answers.items()} == {
        (m, route): editor for m, route, _, _, editor in TABLE
    }
    refused = [resp.get_json() for resp in answers.values() if resp.status_code == 403]
    assert refused == [{"error": "only an ADMIN may do this", "code": "PERMISSION_DENIED"}]
    # What each route answered on success is what the OpenAPI document says it answers.
    documented = {(r.method, r.path): r.status for api in APIS for r in api.routes}
    assert {key: documented[key] for key, resp in answers.items() if resp.status_code < 300} == {
        key: resp.status_code for key, resp in answers.items() if resp.status_code < 300
    }
    assert world.get(f"{B}/settings/notifications") == settings
    # The same body from the ADMIN is accepted: the EDITOR was refused for its role alone.
    [(_, route, body, *_)] = [row for row in TABLE if row[:2] == ("PUT", f"{B}/settings/notifications")]
    assert world.call("PUT", route, body, world.admin).status_code == documented[("PUT", route)] == 200
