"""Validation issues end to end: evaluated on every write, listed while unresolved, resolved by
fixing the data, and found again from scratch by the sweep."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore.quality import FirestoreIssueStore
from shared.adapters.firestore.sweep import FirestoreSweepStore
from shared.domain.catalog import Collection
from shared.domain.tenancy import Scope
from shared.services.sweep import Sweep
from tests.integration.conftest import JobsApi
from tests.support import headers, new_scope

ISSUES = "/api/v1/pim/validation-issues"
GOOD = {
    "description": "A sturdy product, tested for daily use, with a two-year warranty.",
    "category": "Tools",
    "brand": "Acme",
    "barcode": "4006381333931",
    "attributes": {"color": "red"},
}


def issues(client: Any, auth: dict[str, str], **query: str) -> set[tuple[str, str, str | None]]:
    found, cursor = set(), None
    while True:
        body = client.get(
            ISSUES, query_string={**query, **({"cursor": cursor} if cursor else {})}, headers=auth
        ).get_json()
        found |= {(i["product_id"], i["code"], i["variant_id"]) for i in body["items"]}
        assert all(i["resolved"] is False for i in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return found


def ids_by_sku(jobs: JobsApi) -> dict[str, str]:
    return {p["sku"]: p["id"] for p in jobs.products()}


def test_imported_problems_are_listed_and_fixing_them_makes_them_disappear(jobs: JobsApi, client: Any) -> None:
    jobs.run(
        "BULK_IMPORT",
        [
            {"title": "No description here", "sku": "A", **{**GOOD, "description": None}},
            {"title": "Bad barcode product", "sku": "B", **{**GOOD, "barcode": "4006381333932"}},
            {"title": "Duplicate one product", "sku": "DUP", **GOOD},
            {"title": "Duplicate two product", "sku": "DUP", **GOOD},
            {"title": "Clean product all good", "sku": "C", **GOOD},
        ],
    )
    ids = {p["title"]: p["id"] for p in jobs.products()}
    a, b = ids["No description here"], ids["Bad barcode product"]
    d1, d2 = ids["Duplicate one product"], ids["Duplicate two product"]
    assert issues(client, jobs.auth) == {
        (a, "MISSING_DESCRIPTION", None),
        (b, "INVALID_BARCODE", None),
        (d1, "DUPLICATE_SKU", None),
        (d2, "DUPLICATE_SKU", None),
    }
    assert issues(client, jobs.auth, severity="ERROR") == {
        (b, "INVALID_BARCODE", None),
        (d1, "DUPLICATE_SKU", None),
        (d2, "DUPLICATE_SKU", None),
    }
    assert issues(client, jobs.auth, code="MISSING_DESCRIPTION", product_id=a) == {(a, "MISSING_DESCRIPTION", None)}

    # Fix by PUT: the description; fix by BULK_UPDATE: the barcode and one of the duplicates.
    assert (
        client.put(
            f"/api/v1/pim/products/{a}", json={"description": GOOD["description"]}, headers=jobs.auth
        ).status_code
        == 200
    )
    assert issues(client, jobs.auth, product_id=a) == set()
    jobs.run("BULK_UPDATE", [{"id": b, "barcode": "036000291452"}, {"id": d2, "sku": "DUP-2"}])
    assert issues(client, jobs.auth) == set()  # the other holder of DUP is cleared too


def test_a_sku_shared_with_a_variant_and_a_deleted_holder(jobs: JobsApi, client: Any) -> None:
    p1 = client.post(
        "/api/v1/pim/products", json={"title": "First product here", "sku": "S-1", **GOOD}, headers=jobs.auth
    ).get_json()
    p2 = client.post(
        "/api/v1/pim/products", json={"title": "Second product here", "sku": "S-2", **GOOD}, headers=jobs.auth
    ).get_json()
    v = client.post(
        f"/api/v1/pim/products/{p2['id']}/variants",
        json={"sku": "S-1", "price": 5, "currency": "EUR"},
        headers=jobs.auth,
    ).get_json()
    assert issues(client, jobs.auth, code="DUPLICATE_SKU") == {
        (p1["id"], "DUPLICATE_SKU", None),
        (p2["id"], "DUPLICATE_SKU", v["id"]),
    }
    assert client.delete(f"/api/v1/pim/products/{p1['id']}", headers=jobs.auth).status_code == 204
    assert issues(client, jobs.auth) == set()  # deleting resolves its issues and its partner's


def test_issues_are_listed_newest_first_with_a_cursor(jobs: JobsApi, client: Any) -> None:
    for i in range(3):
        client.post(
            "/api/v1/pim/products",
            json={"title": f"Product number {i}", "sku": f"N{i}", **{**GOOD, "description": None}},
            headers=jobs.auth,
        )
    first = client.get(ISSUES, query_string={"limit": 2}, headers=jobs.auth).get_json()
    rest = client.get(ISSUES, query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=jobs.auth).get_json()
    listed = first["items"] + rest["items"]
    assert [i["created_at"] for i in listed] == sorted((i["created_at"] for i in listed), reverse=True)
    assert len(listed) == 3 and rest["next_cursor"] is None
    assert set(listed[0]) >= {"id", "code", "severity", "message", "field", "product_id", "variant_id", "created_at"}


@pytest.mark.parametrize(
    ("query", "field"), [({"severity": "FATAL"}, "severity"), ({"limit": "0"}, "limit"), ({"cursor": "nope"}, "cursor")]
)
def test_bad_issue_queries_are_400(jobs: JobsApi, client: Any, query: dict[str, str], field: str) -> None:
    resp = client.get(ISSUES, query_string=query, headers=jobs.auth)
    assert resp.status_code == 400 and resp.get_json()["details"][0]["field"] == field


def test_another_tenants_issues_are_never_listed(jobs: JobsApi, client: Any, keys: tuple[Path, Path]) -> None:
    client.post("/api/v1/pim/products", json={"title": "x"}, headers=jobs.auth)
    assert issues(client, jobs.auth) and issues(client, headers(keys[0], new_scope())) == set()


# --- the sweep ------------------------------------------------------------------------------
def write_behind_the_back(scope: Scope, products: list[dict[str, Any]]) -> list[str]:
    """Products written straight into Firestore, as a migration script might: no evaluation ran."""
    client = wiring.firestore_client()
    col = client.collection(f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products")
    ids = []
    for fields in products:
        pid = str(uuid.uuid4())
        now = datetime.now(UTC)
        col.document(pid).set(
            {
                "id": pid,
                "tenant_id": scope.tenant_id,
                "org_id": scope.org_id,
                "created_at": now,
                "updated_at": now,
                "status": "ACTIVE",
                "attributes": {},
                "variants": [],
                **fields,
            }
        )
        ids.append(pid)
    return ids


def sweep_of(scope: Scope, name: str | None = None) -> Sweep:
    """The production sweep, limited to one test's tenant (the emulator holds every test's data)."""
    client = wiring.firestore_client()
    store = FirestoreSweepStore(client, name or f"test-{scope.tenant_id}", tenant_ids={scope.tenant_id})
    return Sweep(store, wiring.quality, lambda s: FirestoreIssueStore(client, s), wiring.utc_now)


def sweep_until_done(scope: Scope, budget: float = 60) -> list[dict[str, Any]]:
    reports = []
    while True:
        report = sweep_of(scope).run(budget).model_dump()
        reports.append(report)
        if report["status"] == "completed":
            return reports


def test_the_sweep_finds_issues_in_a_catalog_written_behind_its_back(jobs: JobsApi, client: Any, scope: Scope) -> None:
    ids = write_behind_the_back(
        scope,
        [
            {"title": "Written directly one", "sku": "X", **GOOD},
            {"title": "Written directly two", "sku": "X", **{**GOOD, "barcode": "123"}},
            {"title": "Written directly three", "sku": "Y", **{**GOOD, "description": None}},
        ],
    )
    assert issues(client, jobs.auth) == set()
    sweep_until_done(scope)
    assert issues(client, jobs.auth) == {
        (ids[0], "DUPLICATE_SKU", None),
        (ids[1], "DUPLICATE_SKU", None),
        (ids[1], "INVALID_BARCODE", None),
        (ids[2], "MISSING_DESCRIPTION", None),
    }
    # Deleted behind its back too: the next sweep resolves what no longer holds.
    wiring.firestore_client().document(f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products/{ids[1]}").delete()
    sweep_until_done(scope)
    assert issues(client, jobs.auth) == {(ids[2], "MISSING_DESCRIPTION", None)}


def test_the_sweep_rebuilds_the_same_set_from_scratch(jobs: JobsApi, client: Any, scope: Scope) -> None:
    payload = [{"title": f"Product number {i}", "sku": f"S{i % 7}", **GOOD} for i in range(20)]
    payload[3] = {"title": "short", "barcode": "99"}
    jobs.run("BULK_IMPORT", payload)
    expected = issues(client, jobs.auth)
    assert len(expected) > 10
    root = f"tenants/{scope.tenant_id}/orgs/{scope.org_id}"
    for name in ("validation_issues", "quality", "sku_index"):  # forget everything evaluation knew
        for doc in wiring.firestore_client().collection(f"{root}/{name}").list_documents():
            doc.delete()
    assert issues(client, jobs.auth) == set()
    sweep_until_done(scope)
    assert issues(client, jobs.auth) == expected


def test_a_sweep_pauses_at_its_budget_and_resumes(jobs: JobsApi, client: Any, scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": f"Direct {i}", "sku": "SAME"} for i in range(5)])
    reports = sweep_until_done(scope, budget=0.000001)  # stops after every page it starts
    assert reports[0]["status"] == "paused" and reports[-1]["status"] == "completed"
    assert {code for _, code, _ in issues(client, jobs.auth, code="DUPLICATE_SKU")} == {"DUPLICATE_SKU"}
    assert len(issues(client, jobs.auth, code="DUPLICATE_SKU")) == 5


def test_two_sweeps_at_once_do_not_both_run(scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": "Direct", "sku": "Q"}])
    outcomes: list[str] = []
    name = f"race-{uuid.uuid4()}"
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        outcomes.append(sweep_of(scope, name).run(60).status)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["busy", "completed"], ["completed", "completed"])
    assert sweep_of(scope, name).run(60).status == "completed"


def test_evaluations_racing_each_other_converge(jobs: JobsApi, client: Any, scope: Scope) -> None:
    ids = write_behind_the_back(scope, [{"title": f"Racing product {i}", "sku": "R", **GOOD} for i in range(6)])
    quality = wiring.quality(scope)
    threads = [threading.Thread(target=quality.evaluate, args=(ids[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert issues(client, jobs.auth) == {(pid, "DUPLICATE_SKU", None) for pid in ids}


def test_products_judged_by_a_racing_evaluation_before_their_creator_are_judged_exactly(
    jobs: JobsApi, client: Any, scope: Scope
) -> None:
    """The batch that created products evaluates them without reading their summaries (it assumes
    none yet, and creates them); when another evaluation got there first, it judges them as any."""
    ids = write_behind_the_back(
        scope,
        [
            {"title": "Judged first one", "sku": "F", **{**GOOD, "description": None}},
            {"title": "Judged first two", "sku": "F", **GOOD},
        ],
    )
    quality = wiring.quality(scope)
    quality.evaluate(ids)  # the racing evaluation: summaries and issues exist now
    first = issues(client, jobs.auth)
    assert first == {
        (ids[0], "MISSING_DESCRIPTION", None),
        (ids[0], "DUPLICATE_SKU", None),
        (ids[1], "DUPLICATE_SKU", None),
    }
    known = wiring.bulk_job_processor(scope).catalog.get_many(Collection.PRODUCTS, ids)
    quality.evaluate(ids, known)  # the creator's own evaluation, later
    assert issues(client, jobs.auth) == first
    client.put(
        f"/api/v1/pim/products/{ids[0]}", json={"description": GOOD["description"], "sku": "G"}, headers=jobs.auth
    )
    assert issues(client, jobs.auth) == set()  # nothing was left open behind the summaries' back
