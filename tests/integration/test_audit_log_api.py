"""The audit log: newest first, filtered, paged, immutable, and exactly one event per change,
whether the change came from a request or from a bulk job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import JobsApi
from tests.support import headers, new_scope

LOG = "/api/v1/pim/audit-logs"


def all_events(client: Any, auth: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    events, cursor = [], None
    while True:
        query = {**filters, **({"cursor": cursor} if cursor else {})}
        body = client.get(LOG, query_string=query, headers=auth).get_json()
        events += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return events


def test_a_bulk_import_writes_exactly_one_created_event_per_product(jobs: JobsApi, client: Any) -> None:
    payload = [{"title": f"P{i}", "sku": f"S{i}"} for i in range(600)]
    payload[3] = {"sku": "no title"}
    job = jobs.run("BULK_IMPORT", payload)
    events = all_events(client, jobs.auth, action="product.created")
    assert len(events) == job["processed_items"] == 599
    assert {e["resource_id"] for e in events} == {p["id"] for p in jobs.products()}
    assert all(e["job_id"] == job["id"] and e["actor_email"] == "tester@example.com" for e in events)
    first = client.get(LOG, headers=jobs.auth).get_json()
    assert len(first["items"]) == 100 and first["next_cursor"]  # the newest 100, then a cursor


def test_bulk_updates_and_deletes_are_audited_with_their_diffs(jobs: JobsApi, client: Any) -> None:
    jobs.run("BULK_IMPORT", [{"title": "A", "sku": "A1"}, {"title": "B"}])
    a, b = sorted(jobs.products(), key=lambda p: p["title"])
    update = jobs.run("BULK_UPDATE", [{"id": a["id"], "title": "A2"}, {"id": a["id"], "sku": None}])
    jobs.run("BULK_DELETE", [b["id"]])
    [updated] = all_events(client, jobs.auth, action="product.updated")
    assert updated["job_id"] == update["id"]
    assert updated["changes"] == {"title": {"before": "A", "after": "A2"}, "sku": {"before": "A1", "after": None}}
    [deleted] = all_events(client, jobs.auth, action="product.deleted")
    assert deleted["resource_id"] == b["id"] and deleted["changes"]["title"]["before"] == "B"


def test_filters_combine_and_the_list_is_newest_first(jobs: JobsApi, client: Any) -> None:
    pid = client.post("/api/v1/pim/products", json={"title": "X"}, headers=jobs.auth).get_json()["id"]
    client.put(f"/api/v1/pim/products/{pid}", json={"title": "Y"}, headers=jobs.auth)
    client.post("/api/v1/pim/brands", json={"name": "Acme"}, headers=jobs.auth)
    everything = all_events(client, jobs.auth)
    assert [e["action"] for e in everything] == ["brand.created", "product.updated", "product.created"]
    assert [e["action"] for e in all_events(client, jobs.auth, resource_type="product", resource_id=pid)] == [
        "product.updated",
        "product.created",
    ]
    assert all_events(client, jobs.auth, resource_type="brand", action="product.created") == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_nothing_can_write_or_delete_an_event(jobs: JobsApi, client: Any, method: str) -> None:
    client.post("/api/v1/pim/brands", json={"name": "Acme"}, headers=jobs.auth)
    [event] = all_events(client, jobs.auth)
    for path in (LOG, f"{LOG}/{event['id']}"):
        assert client.open(path, method=method, json={}, headers=jobs.auth).status_code in (404, 405)
    assert all_events(client, jobs.auth) == [event]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"resource_type": "widget"}, "resource_type"), ({"limit": "500"}, "limit"), ({"cursor": "???"}, "cursor")],
)
def test_bad_audit_queries_are_400(jobs: JobsApi, client: Any, query: dict[str, str], field: str) -> None:
    resp = client.get(LOG, query_string=query, headers=jobs.auth)
    assert resp.status_code == 400 and resp.get_json()["details"][0]["field"] == field


def test_another_tenants_events_are_never_listed(jobs: JobsApi, client: Any, keys: tuple[Path, Path]) -> None:
    client.post("/api/v1/pim/brands", json={"name": "Private"}, headers=jobs.auth)
    assert all_events(client, headers(keys[0], new_scope())) == []
