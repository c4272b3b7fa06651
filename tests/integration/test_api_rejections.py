"""Every endpoint's bad input, auth failures and cross-tenant access: a clear JSON 4xx, never a
500, and nothing stored by a rejected request."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from functions.openapi import APIS
from shared.http import Route
from shared.settings import get_settings
from tests.integration.conftest import JobsApi
from tests.support import headers, new_scope

ROUTES = [r for api in APIS for r in api.routes]
JOB = "/api/v1/pim/bulk-jobs"


def call(client: Any, route: Route, hdrs: dict[str, str]) -> Any:
    path = re.sub(r"<(\w+)>", lambda _: str(uuid.uuid4()), route.path)
    body = {"job_type": "BULK_IMPORT", "payload": [{"title": "x"}]} if route.method in ("POST", "PUT") else None
    return client.open(path, method=route.method, json=body, headers=hdrs)


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert isinstance(body["error"], str) and body["error"]
    if code:
        assert body["code"] == code
    return body


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
class TestEveryEndpointAuth:
    def test_no_token_is_401(self, client: Any, auth: dict[str, str], route: Route) -> None:
        assert_error(
            call(client, route, {k: v for k, v in auth.items() if k != "Authorization"}), 401, "UNAUTHENTICATED"
        )

    def test_a_bad_token_is_401(self, client: Any, auth: dict[str, str], route: Route) -> None:
        assert_error(call(client, route, {**auth, "Authorization": "Bearer abc.def.ghi"}), 401)

    def test_an_expired_token_is_401(self, client: Any, keys: tuple[Path, Path], scope: Any, route: Route) -> None:
        assert_error(call(client, route, headers(keys[0], scope, ttl=-300)), 401)

    @pytest.mark.parametrize("drop", ["X-Tenant-ID", "X-Org-ID"])
    def test_a_missing_scope_header_is_401(self, client: Any, auth: dict[str, str], route: Route, drop: str) -> None:
        assert_error(call(client, route, {k: v for k, v in auth.items() if k != drop}), 401)

    def test_another_tenants_header_is_403(self, client: Any, auth: dict[str, str], route: Route) -> None:
        assert_error(call(client, route, {**auth, "X-Tenant-ID": str(uuid.uuid4())}), 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "field"),
    [
        (b"{not json", "application/json", 400, "INVALID_JSON", "body"),
        (
            b'{"job_type": "BULK_IMPORT", "payload": [{"title": "x"}]}',
            "text/plain",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        ),
        (json.dumps({"payload": [{"title": "x"}]}), "application/json", 400, "INVALID_ARGUMENT", "job_type"),
        (
            json.dumps({"job_type": "BULK_MERGE", "payload": []}),
            "application/json",
            400,
            "INVALID_ARGUMENT",
            "job_type",
        ),
        (json.dumps({"job_type": "BULK_IMPORT"}), "application/json", 400, "INVALID_ARGUMENT", "payload"),
        (
            json.dumps({"job_type": "BULK_IMPORT", "payload": {"title": "x"}}),
            "application/json",
            400,
            "INVALID_ARGUMENT",
            "payload",
        ),
        (
            json.dumps({"job_type": "BULK_IMPORT", "payload": []}),
            "application/json",
            400,
            "INVALID_ARGUMENT",
            "payload",
        ),
        (
            json.dumps({"job_type": "BULK_IMPORT", "payload": '[{"title":'}),
            "application/json",
            400,
            "INVALID_JSON",
            "payload",
        ),
        (
            json.dumps({"job_type": "BULK_DELETE", "payload": [{"id": "x"}]}),
            "application/json",
            400,
            "INVALID_ARGUMENT",
            "payload[0]",
        ),
        (
            json.dumps({"job_type": "BULK_UPDATE", "payload": ["id-only"]}),
            "application/json",
            400,
            "INVALID_ARGUMENT",
            "payload[0]",
        ),
        (json.dumps([1, 2]), "application/json", 400, "INVALID_ARGUMENT", None),
    ],
    ids=[
        "not-json",
        "not-json-content-type",
        "no-job-type",
        "unknown-job-type",
        "no-payload",
        "payload-object",
        "payload-empty",
        "payload-string-not-json",
        "delete-objects",
        "update-strings",
        "body-array",
    ],
)
def test_bad_job_creation_is_rejected_and_stores_nothing(
    client: Any, jobs: JobsApi, body: Any, content_type: str, status: int, code: str, field: str | None
) -> None:
    resp = client.post(JOB, data=body, headers={**jobs.auth, "Content-Type": content_type})
    error = assert_error(resp, status, code)
    if field:
        assert field in [d["field"] for d in error["details"]]
    for job_type in ("BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"):
        assert client.get(JOB, query_string={"type": job_type}, headers=jobs.auth).get_json()["items"] == []


def test_unknown_job_type_error_names_the_values(client: Any, jobs: JobsApi) -> None:
    error = assert_error(client.post(JOB, json={"job_type": "IMPORT", "payload": [{}]}, headers=jobs.auth), 400)
    assert all(v in error["details"][0]["problem"] for v in ("BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"))


def test_a_body_over_10_mb_is_413(client: Any, jobs: JobsApi) -> None:
    limit = get_settings().max_body_bytes
    payload = json.dumps([{"title": "x" * 400}] * (limit // 400 + 10))
    body = json.dumps({"job_type": "BULK_IMPORT", "payload": payload}).encode()
    assert len(body) > limit
    assert_error(
        client.post(JOB, data=body, headers={**jobs.auth, "Content-Type": "application/json"}), 413, "PAYLOAD_TOO_LARGE"
    )


def test_more_items_than_a_job_may_hold_is_400(client: Any, jobs: JobsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_JOB_ITEMS", "5")
    get_settings.cache_clear()
    try:
        error = assert_error(
            client.post(JOB, json={"job_type": "BULK_DELETE", "payload": ["a"] * 6}, headers=jobs.auth), 400
        )
        assert "at most 5" in error["error"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (JOB, {"type": "BULK_SOMETHING"}, "type"),
        (JOB, {"job_type": "X"}, "job_type"),
        (JOB, {"limit": "0"}, "limit"),
        (JOB, {"limit": "101"}, "limit"),
        (JOB, {"limit": "many"}, "limit"),
        (JOB, {"cursor": "%%%"}, "cursor"),
        (JOB, {"cursor": "WyJ4Il0"}, "cursor"),
        ("/api/v1/pim/products", {"limit": "-1"}, "limit"),
        ("/api/v1/pim/products", {"cursor": "bm90IGpzb24"}, "cursor"),
    ],
)
def test_bad_list_queries_are_400(client: Any, jobs: JobsApi, path: str, query: dict[str, str], field: str) -> None:
    error = assert_error(client.get(path, query_string=query, headers=jobs.auth), 400)
    assert field in [d["field"] for d in error["details"]]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        (f"{JOB}/{uuid.uuid4()}", "bulk job not found"),
        (f"{JOB}/not-a-uuid", "no such resource: /api/v1/pim/bulk-jobs/not-a-uuid"),
        (f"{JOB}/{uuid.uuid4()}/errors", "bulk job not found"),
        (f"/api/v1/pim/products/{uuid.uuid4()}", "product not found"),
        (f"/api/v1/pim/exports/{uuid.uuid4()}", "export not found"),
        ("/api/v1/pim/nothing-here", "no such resource: /api/v1/pim/nothing-here"),
    ],
)
def test_unknown_resources_are_404(client: Any, jobs: JobsApi, path: str, error: str) -> None:
    resp = client.get(path, headers=jobs.auth)
    assert (resp.status_code, resp.get_json()) == (404, {"error": error, "code": "NOT_FOUND"})


@pytest.mark.parametrize(
    "cursor",
    # ["x"], [1, 2, 3], ["a", "b"], ["a", 0], [0, "a"], [1.5, 0], not base64
    ["WyJ4Il0", "WzEsIDIsIDNd", "WyJhIiwgImIiXQ", "WyJhIiwgMF0", "WzAsICJhIl0", "WzEuNSwgMF0", "%%%"],
)
def test_a_bad_cursor_on_a_jobs_errors_is_400(client: Any, jobs: JobsApi, cursor: str) -> None:
    job = jobs.create("BULK_DELETE", ["x"])
    resp = client.get(f"{JOB}/{job['id']}/errors", query_string={"cursor": cursor}, headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


def test_an_unsupported_method_is_405(client: Any, jobs: JobsApi) -> None:
    assert_error(client.delete(JOB, headers=jobs.auth), 405, "METHOD_NOT_ALLOWED")


def test_another_tenants_or_orgs_job_and_products_are_404(
    client: Any, jobs: JobsApi, keys: tuple[Path, Path], scope: Any
) -> None:
    job = jobs.run("BULK_IMPORT", [{"title": "Private"}])
    product_id = jobs.products()[0]["id"]
    same_tenant_other_org = type(scope)(tenant_id=scope.tenant_id, org_id=str(uuid.uuid4()))
    for intruder in (new_scope(), same_tenant_other_org):
        h = headers(keys[0], intruder)
        assert_error(client.get(f"{JOB}/{job['id']}", headers=h), 404)
        assert_error(client.get(f"{JOB}/{job['id']}/errors", headers=h), 404)
        assert_error(client.get(f"/api/v1/pim/products/{product_id}", headers=h), 404)
        assert client.get(JOB, query_string={"type": "BULK_IMPORT"}, headers=h).get_json()["items"] == []
        assert client.get("/api/v1/pim/products", headers=h).get_json()["items"] == []
