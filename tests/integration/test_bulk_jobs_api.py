"""Bulk jobs through the HTTP API, processed for real: Cloud Tasks emulator -> worker -> Firestore."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.integration.conftest import JobsApi
from tests.support import FIXTURES, headers, new_scope


def catalog(count: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Product {i}",
            "sku": f"SKU-{i:05d}",
            "description": "A product",
            "brand": "Acme",
            "category": "Tools",
        }
        for i in range(count)
    ]


def test_create_returns_the_pending_job_at_once_with_its_payload(jobs: JobsApi, scope: Any) -> None:
    payload = [{"title": "Lamp", "sku": "L-1"}]
    job = jobs.create("BULK_IMPORT", payload)
    assert job["status"] == "PENDING"
    assert json.loads(job["payload"]) == payload
    assert job["total_items"] is None and job["processed_items"] == 0
    assert (job["tenant_id"], job["org_id"], job["created_by"]) == (scope.tenant_id, scope.org_id, "tester@example.com")


def test_an_import_creates_products_and_reports_each_bad_item(jobs: JobsApi) -> None:
    payload = catalog(1200)  # several batches
    payload[5] = {"sku": "no-title"}
    payload[700] = {"title": "x", "colour": "red"}
    payload[1100] = {"title": ""}
    job = jobs.run("BULK_IMPORT", payload)
    assert job["status"] == "COMPLETED"
    assert (job["total_items"], job["processed_items"], job["failed_items"]) == (1200, 1197, 3)
    assert [(e["index"], e["code"]) for e in job["errors"]] == [
        (5, "INVALID_ITEM"),
        (700, "INVALID_ITEM"),
        (1100, "INVALID_ITEM"),
    ]
    assert job["started_at"] and job["completed_at"] >= job["started_at"]
    products = jobs.products()
    assert len(products) == 1197
    assert {p["sku"] for p in products} == {f"SKU-{i:05d}" for i in range(1200) if i not in (5, 700, 1100)}
    assert all(p["status"] == "ACTIVE" and p["job_id"] == job["id"] for p in products)


def test_the_fixture_catalog_imports_cleanly(jobs: JobsApi) -> None:
    payload = json.loads((FIXTURES / "products.json").read_text())
    job = jobs.run("BULK_IMPORT", payload)
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", len(payload), 0)
    by_sku = {p["sku"]: p for p in jobs.products()}
    assert by_sku[payload[0]["sku"]]["barcode"] == payload[0]["barcode"]


def test_an_update_changes_only_the_given_fields(jobs: JobsApi, client: Any, keys: tuple[Path, Path]) -> None:
    jobs.run("BULK_IMPORT", catalog(3))
    a, b, c = sorted(jobs.products(), key=lambda p: p["sku"])
    other = JobsApi(client, headers(keys[0], new_scope()))
    other.run("BULK_IMPORT", [{"title": "Theirs"}])
    theirs = other.products()[0]
    job = jobs.run(
        "BULK_UPDATE",
        [
            {"id": a["id"], "title": "Renamed"},
            {"id": b["id"], "description": None, "status": "DRAFT"},
            {"id": theirs["id"], "title": "Hijacked"},
            {"id": str(uuid.uuid4()), "title": "Ghost"},
            {"title": "no id"},
        ],
    )
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 2, 3)
    assert [(e["index"], e["code"]) for e in job["errors"]] == [(2, "NOT_FOUND"), (3, "NOT_FOUND"), (4, "MISSING_ID")]
    after = {p["id"]: p for p in jobs.products()}
    assert after[a["id"]]["title"] == "Renamed" and after[a["id"]]["sku"] == a["sku"]
    assert after[b["id"]]["description"] is None and after[b["id"]]["status"] == "DRAFT"
    assert after[c["id"]] == c
    assert other.products() == [theirs]  # another tenant's product is never touched


def test_a_delete_removes_products_and_never_touches_another_tenants(
    jobs: JobsApi, client: Any, keys: tuple[Path, Path]
) -> None:
    jobs.run("BULK_IMPORT", catalog(4))
    mine = sorted(p["id"] for p in jobs.products())
    other = JobsApi(client, headers(keys[0], new_scope()))
    other.run("BULK_IMPORT", [{"title": "Theirs"}])
    theirs = other.products()[0]["id"]
    job = jobs.run("BULK_DELETE", [mine[0], mine[1], mine[0], theirs, "not-an-id"])
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 2, 3)
    assert [(e["index"], e["id"], e["code"]) for e in job["errors"]] == [
        (2, mine[0], "NOT_FOUND"),
        (3, theirs, "NOT_FOUND"),
        (4, "not-an-id", "NOT_FOUND"),
    ]
    assert sorted(p["id"] for p in jobs.products()) == mine[2:]
    assert [p["id"] for p in other.products()] == [theirs]


def test_a_job_whose_every_item_fails_is_failed(jobs: JobsApi) -> None:
    job = jobs.run("BULK_DELETE", [str(uuid.uuid4()), str(uuid.uuid4())])
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("FAILED", 0, 2)


def test_the_list_is_newest_first_by_type_and_defaults_to_bulk_update(jobs: JobsApi, client: Any) -> None:
    created = [
        jobs.create(t, p)["id"]
        for t, p in [
            ("BULK_UPDATE", [{"id": "x", "title": "a"}]),
            ("BULK_IMPORT", [{"title": "a"}]),
            ("BULK_UPDATE", [{"id": "y", "title": "b"}]),
            ("BULK_UPDATE", [{"id": "z", "title": "c"}]),
        ]
    ]

    def listed(query: dict[str, Any]) -> dict[str, Any]:
        resp = client.get("/api/v1/pim/bulk-jobs", query_string=query, headers=jobs.auth)
        assert resp.status_code == 200
        return resp.get_json()

    assert [j["id"] for j in listed({})["items"]] == [created[3], created[2], created[0]]
    assert [j["id"] for j in listed({"type": "BULK_IMPORT"})["items"]] == [created[1]]
    assert [j["id"] for j in listed({"job_type": "BULK_IMPORT"})["items"]] == [created[1]]
    assert listed({"job_type": "BULK_DELETE"}) == {"items": [], "next_cursor": None}
    first = listed({"limit": 2})
    assert [j["id"] for j in first["items"]] == [created[3], created[2]] and first["next_cursor"]
    rest = listed({"limit": 2, "cursor": first["next_cursor"]})
    assert [j["id"] for j in rest["items"]] == [created[0]] and rest["next_cursor"] is None


def test_a_large_payload_lives_in_storage_and_is_still_reported(jobs: JobsApi, client: Any) -> None:
    payload = [{"title": f"P{i}", "description": "d" * 300} for i in range(1500)]  # about 500 KB
    job = jobs.run("BULK_IMPORT", payload)
    assert job["processed_items"] == 1500
    assert json.loads(job["payload"]) == payload  # GET one job returns it in full
    listed = client.get("/api/v1/pim/bulk-jobs?type=BULK_IMPORT", headers=jobs.auth).get_json()["items"][0]
    assert listed["id"] == job["id"] and listed["payload"] is None and listed["payload_bytes"] == job["payload_bytes"]


def test_every_item_error_can_be_paged_through(jobs: JobsApi, client: Any) -> None:
    payload = [{"title": "ok"} if i % 3 else {"sku": f"bad-{i}"} for i in range(1100)]
    job = jobs.run("BULK_IMPORT", payload)
    bad = [i for i in range(1100) if i % 3 == 0]
    assert job["failed_items"] == len(bad) and len(job["errors"]) == 100
    # Pages across batches (249 items, 83 errors each), and pages ending exactly where a batch does.
    for limit in (150, 83, 100):
        seen, cursor, pages = [], None, 0
        while True:
            query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            resp = client.get(f"/api/v1/pim/bulk-jobs/{job['id']}/errors", query_string=query, headers=jobs.auth)
            body = resp.get_json()
            assert len(body["items"]) <= limit
            seen += [e["index"] for e in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert (seen, pages) == (bad, -(-len(bad) // limit)), limit


def test_a_payload_sent_as_a_json_string_is_accepted(jobs: JobsApi) -> None:
    job = jobs.run("BULK_IMPORT", json.dumps([{"title": "From a string"}]))
    assert job["processed_items"] == 1 and json.loads(job["payload"]) == [{"title": "From a string"}]


def test_error_pages_of_any_size_end_where_the_errors_do(jobs: JobsApi, client: Any) -> None:
    job = jobs.run("BULK_DELETE", [str(uuid.uuid4()) for _ in range(4)])
    for limit in (1, 2, 4, 5):
        pages, cursor = [], None
        while True:
            query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            body = client.get(f"/api/v1/pim/bulk-jobs/{job['id']}/errors", query_string=query, headers=jobs.auth)
            page = body.get_json()
            pages.append([e["index"] for e in page["items"]])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert pages == [list(range(i, min(i + limit, 4))) for i in range(0, 4, limit)], limit
