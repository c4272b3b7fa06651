"""Hostile input at the HTTP edge: ids Firestore reserves, broken Unicode, absurd nesting,
crafted cursors, oversized streamed bodies, odd headers and unknown names. Each is a JSON 4xx
that says what is wrong, never a 500, and nothing is stored."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest

from tests.integration.conftest import JobsApi
from tests.integration.test_api_rejections import assert_error

JOB = "/api/v1/pim/bulk-jobs"
PIM = "/api/v1/pim"


@pytest.mark.parametrize("bad_id", ["__x__", ".", "..", "__name__", "a.b", "not-a-uuid", "x" * 2000])
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/products/{}"),
        ("PUT", "/products/{}"),
        ("DELETE", "/products/{}"),
        ("GET", "/products/{}/variants"),
        ("GET", "/products/{}/variants/{}"),
        ("GET", "/categories/{}"),
        ("DELETE", "/brands/{}"),
        ("GET", "/bulk-jobs/{}"),
        ("GET", "/bulk-jobs/{}/errors"),
        ("GET", "/exports/{}"),
    ],
)
def test_ids_that_are_not_uuids_are_404(client: Any, jobs: JobsApi, method: str, template: str, bad_id: str) -> None:
    path = PIM + template.format(*[bad_id] * template.count("{}"))
    body = {"title": "x"} if method == "PUT" else None
    assert_error(client.open(path, method=method, json=body, headers=jobs.auth), 404, "NOT_FOUND")


def test_an_upper_case_id_names_the_same_product(client: Any, jobs: JobsApi) -> None:
    created = client.post(f"{PIM}/products", json={"title": "Lamp"}, headers=jobs.auth).get_json()
    resp = client.get(f"{PIM}/products/{created['id'].upper()}", headers=jobs.auth)
    assert resp.status_code == 200 and resp.get_json()["id"] == created["id"]


def raw_post(client: Any, jobs: JobsApi, path: str, raw: bytes | str) -> Any:
    return client.post(path, data=raw, headers={**jobs.auth, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "\\ud800"}',
        '{"title": "ok", "description": "tail \\udfff"}',
        '{"title": "ok", "attributes": {"\\ud83d": "x"}}',
    ],
    ids=["lone-high", "lone-low", "in-a-key"],
)
def test_lone_surrogates_are_400(client: Any, jobs: JobsApi, raw: str) -> None:
    error = assert_error(raw_post(client, jobs, f"{PIM}/products", raw), 400, "INVALID_JSON")
    assert "surrogate" in error["details"][0]["problem"]
    assert jobs.products() == []


def test_a_surrogate_pair_is_an_ordinary_character(client: Any, jobs: JobsApi) -> None:
    resp = raw_post(client, jobs, f"{PIM}/products", '{"title": "Lamp \\ud83d\\udca1"}')
    assert resp.status_code == 201 and resp.get_json()["title"] == "Lamp \U0001f4a1"


def test_a_lone_surrogate_in_a_bulk_payload_string_is_400(client: Any, jobs: JobsApi) -> None:
    body = json.dumps({"job_type": "BULK_IMPORT", "payload": '[{"title": "\\ud800"}]'})
    assert_error(raw_post(client, jobs, JOB, body), 400, "INVALID_JSON")


@pytest.mark.parametrize("depth", [100, 50_000])
def test_deep_nesting_is_400(client: Any, jobs: JobsApi, depth: int) -> None:
    raw = '{"job_type": "BULK_IMPORT", "payload": [' + "[" * depth + "]" * depth + "]}"
    error = assert_error(raw_post(client, jobs, JOB, raw), 400, "INVALID_JSON")
    assert "deep" in error["details"][0]["problem"]


def test_deep_nesting_inside_a_payload_string_is_400(client: Any, jobs: JobsApi) -> None:
    payload = "[" + "[" * 50_000 + "]" * 50_000 + "]"
    assert_error(raw_post(client, jobs, JOB, json.dumps({"job_type": "BULK_IMPORT", "payload": payload})), 400)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_400(client: Any, jobs: JobsApi, constant: str) -> None:
    raw = '{"title": "x", "attributes": {"w": CONSTANT}}'.replace("CONSTANT", constant)
    assert_error(raw_post(client, jobs, f"{PIM}/products", raw), 400, "INVALID_JSON")


def cursor(values: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "crafted",
    [
        [10**30, 0],
        [0, 10**30],
        [-(10**30), 2**63],
        [1.5, 0],
        [True, False],
        [0, 2**31],
        ["\ud800", 0],
    ],
)
def test_crafted_cursors_on_job_errors_are_400(client: Any, jobs: JobsApi, crafted: Any) -> None:
    job = jobs.create("BULK_DELETE", ["x"])
    resp = client.get(f"{JOB}/{job['id']}/errors", query_string={"cursor": cursor(crafted)}, headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "crafted",
    [
        ["9999-12-31T23:59:59+00:00", 10**30],
        [10**30, "x"],
        ["2026-01-01T00:00:00+00:00", {"a": 1}],
        ["2026-01-01T00:00:00+00:00", "a" * 5000],
        ["2026-01-01T00:00:00+00:00", "\ud800"],
        ["2026-01-01T00:00:00+00:00", "x", "y"],
        "2026-01-01T00:00:00+00:00",
    ],
)
@pytest.mark.parametrize(
    "path", [JOB, f"{PIM}/products", f"{PIM}/audit-logs", f"{PIM}/exports", f"{PIM}/brands", f"{PIM}/validation-issues"]
)
def test_crafted_cursors_on_lists_are_400(client: Any, jobs: JobsApi, path: str, crafted: Any) -> None:
    resp = client.get(path, query_string={"cursor": cursor(crafted)}, headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "crafted", [["0001-01-01T00:00:00", "x"], ["2026-13-01T00:00:00+00:00", "x"], ["yesterday", "x"]]
)
@pytest.mark.parametrize("path", [JOB, f"{PIM}/products", f"{PIM}/audit-logs", f"{PIM}/exports"])
def test_cursors_of_newest_first_lists_need_an_aware_time(client: Any, jobs: JobsApi, path: str, crafted: Any) -> None:
    resp = client.get(path, query_string={"cursor": cursor(crafted)}, headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


def test_a_streamed_body_over_the_limit_is_a_json_413(client: Any, jobs: JobsApi) -> None:
    from shared.settings import get_settings

    chunk = b'{"title": "' + b"x" * 1_000_000
    stream = io.BytesIO(chunk * (get_settings().max_body_bytes // len(chunk) + 2))
    resp = client.post(
        JOB,
        input_stream=stream,
        headers={**jobs.auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},  # as a server that de-chunks the body says
    )
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (JOB, {"job_type": "BULK_IMPORT", "payload": [{"title": "x"}], "dryrun": True}, "dryrun"),
        (JOB, {"jobtype": "BULK_IMPORT", "job_type": "BULK_IMPORT", "payload": [{"title": "x"}]}, "jobtype"),
        (f"{PIM}/exports", {"format": "CSV", "fromat": "CSV"}, "fromat"),
        (f"{PIM}/brands", {"name": "Acme", "logo": "x"}, "logo"),
    ],
)
def test_unknown_body_fields_are_400_naming_them(
    client: Any, jobs: JobsApi, path: str, body: dict[str, Any], field: str
) -> None:
    error = assert_error(client.post(path, json=body, headers=jobs.auth), 400, "INVALID_ARGUMENT")
    assert field in [d["field"] for d in error["details"]]
    assert client.get(JOB, query_string={"type": "BULK_IMPORT"}, headers=jobs.auth).get_json()["items"] == []


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        (JOB, {"jobtype": "BULK_IMPORT"}, "jobtype"),
        (f"{PIM}/products", {"limt": "5"}, "limt"),
        (f"{PIM}/audit-logs", {"actor": "x"}, "actor"),
        (f"{PIM}/validation-issues", {"severity": "ERROR", "sort": "asc"}, "sort"),
    ],
)
def test_unknown_query_parameters_are_400_naming_them(
    client: Any, jobs: JobsApi, path: str, query: dict[str, str], name: str
) -> None:
    error = assert_error(client.get(path, query_string=query, headers=jobs.auth), 400, "INVALID_ARGUMENT")
    assert name in [d["field"] for d in error["details"]]


def test_a_repeated_query_parameter_is_400(client: Any, jobs: JobsApi) -> None:
    resp = client.get(f"{JOB}?type=BULK_IMPORT&type=BULK_DELETE", headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


def test_job_type_and_type_together_are_400(client: Any, jobs: JobsApi) -> None:
    resp = client.get(JOB, query_string={"type": "BULK_IMPORT", "job_type": "BULK_DELETE"}, headers=jobs.auth)
    assert_error(resp, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("header", ["X-Tenant-ID", "X-Org-ID", "Authorization"])
def test_non_ascii_headers_are_401(client: Any, jobs: JobsApi, header: str) -> None:
    value = "Bearer é" if header == "Authorization" else "é" * 36
    resp = client.get(JOB, headers={**jobs.auth, header: value.encode().decode("latin-1")})
    assert_error(resp, 401, "UNAUTHENTICATED")


def test_a_non_ascii_task_token_is_401(worker_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("TASK_AUTH_TOKEN", "s3cret-token")
    get_settings.cache_clear()
    try:
        resp = worker_app.test_client().post(
            "/",
            json={"kind": "start", "tenant_id": str(uuid.uuid4()), "org_id": str(uuid.uuid4()), "job_id": "x"},
            headers={"X-Synq-Task-Token": "jé".encode().decode("latin-1")},
        )
        assert_error(resp, 401, "UNAUTHENTICATED")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# --- found by fuzzing the local stack ---------------------------------------------------------
def test_null_attributes_in_a_product_update_clear_them(client: Any, jobs: JobsApi) -> None:
    created = client.post(f"{PIM}/products", json={"title": "Lamp", "attributes": {"w": 1}}, headers=jobs.auth)
    product_id = created.get_json()["id"]
    resp = client.put(f"{PIM}/products/{product_id}", json={"attributes": None, "sku": None}, headers=jobs.auth)
    assert resp.status_code == 200 and resp.get_json()["attributes"] == {}


def test_null_attributes_in_a_bulk_update_clear_them(client: Any, jobs: JobsApi) -> None:
    created = client.post(f"{PIM}/products", json={"title": "Lamp", "attributes": {"w": 1}}, headers=jobs.auth)
    product_id = created.get_json()["id"]
    job = jobs.run("BULK_UPDATE", [{"id": product_id, "attributes": None}])
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 1, 0)
    assert client.get(f"{PIM}/products/{product_id}", headers=jobs.auth).get_json()["attributes"] == {}


def test_null_attributes_in_a_variant_update_clear_them(client: Any, jobs: JobsApi) -> None:
    product_id = client.post(f"{PIM}/products", json={"title": "Lamp"}, headers=jobs.auth).get_json()["id"]
    variant = client.post(
        f"{PIM}/products/{product_id}/variants", json={"sku": "V", "attributes": {"c": "red"}}, headers=jobs.auth
    ).get_json()
    resp = client.put(
        f"{PIM}/products/{product_id}/variants/{variant['id']}", json={"attributes": None}, headers=jobs.auth
    )
    assert resp.status_code == 200 and resp.get_json()["attributes"] == {}


def test_a_lone_surrogate_in_notification_settings_is_400(client: Any, jobs: JobsApi) -> None:
    raw = '{"channel": "webhook", "webhook_url": "http://h\\ud800.example/", "webhook_secret": "0123456789abcdef"}'
    resp = client.put(
        f"{PIM}/settings/notifications", data=raw, headers={**jobs.auth, "Content-Type": "application/json"}
    )
    assert_error(resp, 400, "INVALID_JSON")
    assert_error(client.get(f"{PIM}/settings/notifications", headers=jobs.auth), 404)


def test_a_path_the_framework_cannot_route_is_a_json_404(client: Any, jobs: JobsApi) -> None:
    # A newline in a path segment: the framework's own router answers before any function runs.
    resp = client.get(f"{PIM}/products/%0A/variants", headers=jobs.auth)
    assert_error(resp, 404, "NOT_FOUND")
