"""GET /stats: counters kept by the writes they count, read without scanning the catalog."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import JobsApi

STATS = "/api/v1/pim/stats"
GOOD = {
    "description": "A sturdy product, tested for daily use, with a two-year warranty.",
    "category": "Tools",
    "brand": "Acme",
    "barcode": "4006381333931",
    "attributes": {"color": "red"},
}


def stats(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    resp = client.get(STATS, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body: dict[str, Any] = resp.get_json()
    return body


def issue_counts(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(i["code"], i["severity"]): i["count"] for i in body["validation_issues"]["by_code"]}


def test_an_import_is_counted(jobs: JobsApi, client: Any) -> None:
    jobs.run(
        "BULK_IMPORT",
        [
            {"title": "No description here", "sku": "A", **{**GOOD, "description": None}},
            {"title": "Bad barcode product", "sku": "B", "status": "DRAFT", **{**GOOD, "barcode": "4006381333932"}},
            {"title": "Duplicate one product", "sku": "DUP", **GOOD},
            {"title": "Duplicate two product", "sku": "DUP", **GOOD},
            {"title": "Clean product all good", "sku": "C", **GOOD},
        ],
    )
    body = stats(client, jobs.auth)
    assert body["products"] == {"total": 5, "by_status": {"ACTIVE": 4, "DRAFT": 1, "ARCHIVED": 0}}
    assert issue_counts(body) == {
        ("MISSING_DESCRIPTION", "WARNING"): 1,
        ("INVALID_BARCODE", "ERROR"): 1,
        ("DUPLICATE_SKU", "ERROR"): 2,
    }
    assert body["products_blocked_from_export"] == 3
