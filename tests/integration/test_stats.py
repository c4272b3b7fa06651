"""GET /stats: counters kept by the writes they count, read without scanning the catalog.

Each figure is held against what the API lists (products, unresolved issues) after imports,
updates, deletes and fixes; batches are redelivered and delivered at once, evaluations race, and
the sweep's recount heals counters knocked off by hand."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore import wire
from shared.adapters.firestore.base import TenantRoot
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.stats import STATS, FirestoreStatsStore, counter_writes
from shared.adapters.firestore.sweep import FirestoreSweepStore
from shared.domain.audit import ChangeContext
from shared.domain.catalog import Collection, update_product
from shared.domain.models import JobType
from shared.domain.tenancy import Scope
from shared.errors import UnavailableError
from shared.services.sweep import RECOUNT_LAG, Sweep
from tests.integration.conftest import B, CapturedQueue, JobsApi
from tests.integration.test_bulk_processing import Harness
from tests.support import concurrently, deliver, headers, new_scope, wait_until

STATS_PATH = f"{B}/stats"
GOOD = {
    "description": "A sturdy product, tested for daily use, with a two-year warranty.",
    "category": "Tools",
    "brand": "Acme",
    "barcode": "4006381333931",
    "attributes": {"color": "red"},
}


def stats(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    resp = client.get(STATS_PATH, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body: dict[str, Any] = resp.get_json()
    return body


def listed(client: Any, auth: dict[str, str], name: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{B}/{name}", query_string=query, headers=auth).get_json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def figures(body: dict[str, Any]) -> dict[str, Any]:
    """The counted figures of a /stats answer."""
    return {
        "by_status": {k: v for k, v in body["products"]["by_status"].items() if v},
        "buckets": [b["count"] for b in body["data_quality_score"]["buckets"]],
        "issues": {(i["code"], i["severity"]): i["count"] for i in body["validation_issues"]["by_code"]},
        "blocked": body["products_blocked_from_export"],
    }


def listed_figures(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    """The same figures, counted from what the API lists: the catalog as it is."""
    products = listed(client, auth, "products")
    issues = listed(client, auth, "validation-issues")
    buckets = [0] * 10
    for p in products:
        buckets[min(p["data_quality_score"] // 10, 9)] += 1
    return {
        "by_status": dict(Counter(p["status"] for p in products)),
        "buckets": buckets,
        "issues": dict(Counter((i["code"], i["severity"]) for i in issues)),
        "blocked": len({i["product_id"] for i in issues if i["severity"] == "ERROR"}),
    }


def assert_counted(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    body = stats(client, auth)
    assert figures(body) == listed_figures(client, auth)
    assert body["products"]["total"] == sum(body["products"]["by_status"].values())
    return body


def test_figures_follow_imports_updates_deletes_and_fixes(jobs: JobsApi, client: Any) -> None:
    jobs.run(
        "BULK_IMPORT",
        [
            {"title": "No description here", "sku": "A", **{**GOOD, "description": None}},
            {"title": "Bad barcode product", "sku": "B", **{**GOOD, "barcode": "4006381333932"}, "status": "DRAFT"},
            {"title": "Duplicate one product", "sku": "DUP", **GOOD},
            {"title": "Duplicate two product", "sku": "DUP", **GOOD},
            {"title": "Clean product all good", "sku": "C", **GOOD},
        ],
    )
    body = assert_counted(client, jobs.auth)
    assert body["products"] == {"total": 5, "by_status": {"ACTIVE": 4, "DRAFT": 1, "ARCHIVED": 0}}
    assert figures(body)["issues"] == {
        ("MISSING_DESCRIPTION", "WARNING"): 1,
        ("INVALID_BARCODE", "ERROR"): 1,
        ("DUPLICATE_SKU", "ERROR"): 2,
    }
    assert body["products_blocked_from_export"] == 3
    assert body["validation_issues"]["open"] == 4
    assert body["validation_issues"]["by_severity"] == {"WARNING": 1, "ERROR": 3}
    ids = {p["title"]: p["id"] for p in jobs.products()}

    # A fix by PUT resolves its issue: the count drops, and the score moves up a bucket.
    before = figures(body)["buckets"]
    put = client.put(
        f"{B}/products/{ids['No description here']}", json={"description": GOOD["description"]}, headers=jobs.auth
    )
    assert put.status_code == 200
    body = assert_counted(client, jobs.auth)
    assert ("MISSING_DESCRIPTION", "WARNING") not in figures(body)["issues"]
    assert figures(body)["buckets"] != before

    # A bulk update fixes the barcode and archives the product; another breaks a description.
    jobs.run(
        "BULK_UPDATE",
        [
            {"id": ids["Bad barcode product"], "barcode": "4006381333931", "status": "ARCHIVED"},
            {"id": ids["Clean product all good"], "description": None},
        ],
    )
    body = assert_counted(client, jobs.auth)
    assert body["products"]["by_status"] == {"ACTIVE": 4, "DRAFT": 0, "ARCHIVED": 1}
    assert figures(body)["issues"] == {("DUPLICATE_SKU", "ERROR"): 2, ("MISSING_DESCRIPTION", "WARNING"): 1}
    assert body["products_blocked_from_export"] == 2

    # A variant with a bad barcode blocks its product; removing it unblocks it.
    clean = ids["Clean product all good"]
    variant = client.post(f"{B}/products/{clean}/variants", json={"barcode": "123"}, headers=jobs.auth).get_json()
    body = assert_counted(client, jobs.auth)
    assert body["products_blocked_from_export"] == 3
    assert client.delete(f"{B}/products/{clean}/variants/{variant['id']}", headers=jobs.auth).status_code == 204
    assert assert_counted(client, jobs.auth)["products_blocked_from_export"] == 2

    # Deleting one duplicate resolves both issues; deleting by job takes products away.
    assert client.delete(f"{B}/products/{ids['Duplicate one product']}", headers=jobs.auth).status_code == 204
    body = assert_counted(client, jobs.auth)
    assert ("DUPLICATE_SKU", "ERROR") not in figures(body)["issues"]
    assert body["products_blocked_from_export"] == 0
    jobs.run("BULK_DELETE", [ids["Clean product all good"], ids["Bad barcode product"]])
    body = assert_counted(client, jobs.auth)
    assert body["products"] == {"total": 2, "by_status": {"ACTIVE": 2, "DRAFT": 0, "ARCHIVED": 0}}
    assert body["validation_issues"]["open"] == 0


def test_a_dry_run_counts_nothing(jobs: JobsApi, client: Any) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Kept product", "sku": "K"}])
    before = figures(stats(client, jobs.auth))
    resp = client.post(
        f"{B}/bulk-jobs",
        json={"job_type": "BULK_IMPORT", "dry_run": True, "payload": [{"title": "Not written", "sku": "K"}]},
        headers=jobs.auth,
    )
    jobs.wait(resp.get_json()["id"])
    assert figures(stats(client, jobs.auth)) == before


def products_of(harness: Harness) -> dict[str, Any]:
    """The counted figures from the stored products and summaries, through the API's reads."""
    counters = FirestoreStatsStore(wiring.firestore_client(), harness.scope).counters()
    return {path: n for path, n in counters.items() if n}


def expected_counters(client: Any, auth: dict[str, str]) -> dict[tuple[str, ...], int]:
    found = listed_figures(client, auth)
    expected: dict[tuple[str, ...], int] = {("products", s): n for s, n in found["by_status"].items()}
    expected |= {("score", str(b)): n for b, n in enumerate(found["buckets"]) if n}
    expected |= {("issues", code, severity): n for (code, severity), n in found["issues"].items()}
    if found["blocked"]:
        expected[("blocked",)] = found["blocked"]
    return expected


def harness_items(count: int) -> list[dict[str, Any]]:
    """Every tenth item untitled (refused); SKUs repeat every 50, so duplicates span batches."""
    return [{"title": f"Item {i}", "sku": f"S{i % 50}"} if i % 10 else {"sku": f"untitled {i}"} for i in range(count)]


def test_a_batch_delivered_twice_or_three_times_at_once_counts_once(
    scope: Scope, queue: CapturedQueue, client: Any, auth: dict[str, str]
) -> None:
    harness = Harness(scope, queue)
    import_id = harness.create(JobType.BULK_IMPORT, harness_items(160))
    for task in harness.start(import_id):
        barrier = threading.Barrier(3)

        def at_once(task: Any = task, barrier: threading.Barrier = barrier) -> str:
            barrier.wait(timeout=30)
            return deliver(harness.processor.handle, task)

        outcomes = concurrently(at_once, at_once, at_once)
        assert all(isinstance(o, str) and o.startswith("batch ") for o in outcomes), outcomes
        assert harness.processor.handle(task) == "batch already committed"  # and once more, late
    assert products_of(harness) == expected_counters(client, auth)
    assert products_of(harness)[("products", "ACTIVE")] == 144

    # Updates and deletes, redelivered, count once too.
    ids = sorted(p.id for p in harness.products())
    for job_type, payload in [
        (JobType.BULK_UPDATE, [{"id": i, "status": "DRAFT"} for i in ids[:30]]),
        (JobType.BULK_DELETE, ids[100:]),
    ]:
        for task in harness.start(harness.create(job_type, payload)):
            harness.processor.handle(task)
            harness.processor.handle(task)
    counted = products_of(harness)
    assert counted == expected_counters(client, auth)
    assert (counted[("products", "ACTIVE")], counted[("products", "DRAFT")]) == (70, 30)


def test_evaluations_racing_on_one_product_count_it_once(
    scope: Scope, client: Any, auth: dict[str, str], jobs: JobsApi
) -> None:
    jobs.run("BULK_IMPORT", [{"title": f"Racing product {i}", "sku": f"R{i}", **GOOD} for i in range(5)])
    catalog = FirestoreCatalogStore(wiring.firestore_client(), scope)
    ctx = ChangeContext(scope.tenant_id, scope.org_id, "racer@example.com", wiring.utc_now())
    ids = [p["id"] for p in jobs.products()]
    for pid in ids:  # changed behind evaluation's back: each now has an ERROR, not yet judged
        product, version = catalog.get(Collection.PRODUCTS, pid)
        _, change = update_product(product, version, {"barcode": "4006381333932", "sku": "SAME"}, ctx)
        catalog.commit([change.write], [change.event])
    barrier = threading.Barrier(4)

    def evaluate() -> int:
        barrier.wait(timeout=30)
        return wiring.quality(scope).evaluate(ids)

    outcomes = concurrently(evaluate, evaluate, evaluate, evaluate)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    body = assert_counted(client, auth)
    assert figures(body)["issues"][("INVALID_BARCODE", "ERROR")] == 5
    assert figures(body)["issues"][("DUPLICATE_SKU", "ERROR")] == 5
    assert body["products_blocked_from_export"] == 5


def test_each_tenant_and_org_counts_only_its_own(client: Any, keys: Any, scope: Scope, auth: dict[str, str]) -> None:
    other_org = Scope(tenant_id=scope.tenant_id, org_id=new_scope().org_id)
    other_tenant = Scope(tenant_id=new_scope().tenant_id, org_id=scope.org_id)
    sizes = {scope: 3, other_org: 2, other_tenant: 1}
    for who, size in sizes.items():
        JobsApi(client, headers(keys[0], who)).run("BULK_IMPORT", [{"title": f"Product {i}"} for i in range(size)])
    for who, size in sizes.items():
        body = stats(client, headers(keys[0], who))
        assert (body["tenant_id"], body["org_id"]) == (who.tenant_id, who.org_id)
        assert body["products"]["total"] == size
        assert body["bulk_jobs"]["by_type"]["BULK_IMPORT"]["COMPLETED"] == 1
        # Each product, a title alone, has the same five warnings: counted for this scope only.
        assert len(body["validation_issues"]["by_code"]) == 5
        assert {i["count"] for i in body["validation_issues"]["by_code"]} == {size}


def test_a_viewer_reads_the_figures(client: Any, keys: Any, scope: Scope, jobs: JobsApi) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Seen by a viewer"}])
    viewer = headers(keys[0], scope, role="VIEWER")
    assert figures(stats(client, viewer)) == figures(stats(client, jobs.auth))
    assert stats(client, viewer)["products"]["total"] == 1


def test_jobs_of_the_last_seven_days_by_type_and_status_and_the_last_export(
    jobs: JobsApi, client: Any, scope: Scope
) -> None:
    body = stats(client, jobs.auth)
    assert body["bulk_jobs"]["total"] == 0 and body["last_export"] is None
    jobs.run("BULK_IMPORT", [{"title": "One"}])
    jobs.run("BULK_IMPORT", [{"sku": "no title"}])  # every item failed: FAILED
    old = jobs.run("BULK_DELETE", ["00000000-0000-4000-8000-000000000000"])
    root = TenantRoot(wiring.firestore_client(), scope)
    eight_days_ago = wiring.utc_now() - timedelta(days=8)
    root.collection("bulk_jobs").document(old["id"]).update({"created_at": eight_days_ago})
    export = client.post(f"{B}/exports", json={"format": "CSV"}, headers=jobs.auth).get_json()
    wait_until(lambda: client.get(f"{B}/exports/{export['id']}", headers=jobs.auth).get_json()["status"] == "COMPLETED")
    body = stats(client, jobs.auth)
    assert body["bulk_jobs"]["total"] == 2
    assert body["bulk_jobs"]["by_type"]["BULK_IMPORT"] == {
        "PENDING": 0,
        "PROCESSING": 0,
        "COMPLETED": 1,
        "FAILED": 1,
        "CANCELLED": 0,
    }
    assert sum(body["bulk_jobs"]["by_type"]["BULK_DELETE"].values()) == 0  # created 8 days ago
    assert body["last_export"]["id"] == export["id"]
    assert body["last_export"]["status"] == "COMPLETED"
    assert body["last_export"]["row_count"] == 1
    newer = client.post(f"{B}/exports", headers=jobs.auth).get_json()
    assert stats(client, jobs.auth)["last_export"]["id"] == newer["id"]


def knock_off(scope: Scope, deltas: dict[tuple[str, ...], int]) -> None:
    """Counters moved by something other than the writes they count."""
    root = TenantRoot(wiring.firestore_client(), scope)
    wire.commit(wiring.firestore_client(), counter_writes(root, deltas, "by hand", 16))


def sweep_of(scope: Scope) -> Sweep:
    """The sweep as wired for production, over this scope only (a lease and cursor of its own),
    passes back to back, its clock a lag ahead: it recounts as of now."""
    sweep = wiring.sweep()
    sweep.store = FirestoreSweepStore(wiring.firestore_client(), f"stats-{scope.tenant_id}", {scope.tenant_id})
    sweep.min_interval = timedelta(0)
    sweep.clock = lambda: wiring.utc_now() + RECOUNT_LAG
    return sweep


def test_the_sweep_recounts_and_heals_drift(jobs: JobsApi, client: Any, scope: Scope) -> None:
    jobs.run("BULK_IMPORT", [{"title": f"Counted product {i}", "sku": f"C{i}", **GOOD} for i in range(4)])
    counted = figures(stats(client, jobs.auth))
    # Drift: counters knocked off, and a product deleted behind the API's back.
    knock_off(scope, {("products", "ACTIVE"): 7, ("score", "3"): -2, ("issues", "MISSING_SKU", "WARNING"): 5})
    gone = jobs.products()[0]["id"]
    TenantRoot(wiring.firestore_client(), scope).collection("products").document(gone).delete()
    assert figures(stats(client, jobs.auth)) != listed_figures(client, jobs.auth)

    store = FirestoreStatsStore(wiring.firestore_client(), scope)
    as_of = wiring.utc_now()
    # A write after the recount's moment carries its own deltas: counted once, not lost.
    made = client.post(f"{B}/products", json={"title": "Made after that moment", "status": "DRAFT"}, headers=jobs.auth)
    assert made.status_code == 201
    correction = store.reconcile(as_of)
    assert correction is not None
    assert correction[("products", "ACTIVE")] == -8  # 7 knocked on, and the one deleted behind the API's back
    assert correction[("issues", "MISSING_SKU", "WARNING")] == -5
    assert ("products", "DRAFT") not in correction
    assert_counted(client, jobs.auth)
    assert counted["by_status"] == {"ACTIVE": 4}
    assert store.reconcile(wiring.utc_now()) == {}  # nothing left to heal

    # The sweep recounts each scope it finishes; the gone product's issues resolve as before.
    knock_off(scope, {("blocked",): 3})
    report = sweep_of(scope).run(60)
    assert (report.status, report.counters_corrected) == ("completed", 1)
    assert_counted(client, jobs.auth)


def test_two_recounts_at_once_correct_once(jobs: JobsApi, client: Any, scope: Scope) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Only product"}])
    knock_off(scope, {("products", "ACTIVE"): 10})
    store = FirestoreStatsStore(wiring.firestore_client(), scope)
    barrier = threading.Barrier(3)

    as_of = wiring.utc_now()

    def recount() -> Any:
        barrier.wait(timeout=30)
        return store.reconcile(as_of)

    outcomes = concurrently(recount, recount, recount)
    # Each read the counters as of one moment: one correction commits, the others find it made.
    assert sorted(o is not None for o in outcomes) == [False, False, True], outcomes
    assert_counted(client, jobs.auth)
    assert stats(client, jobs.auth)["products"]["total"] == 1


def test_counters_spread_over_shards_and_are_summed_whatever_the_shard_count(
    scope: Scope, queue: CapturedQueue, client: Any, auth: dict[str, str]
) -> None:
    harness = Harness(scope, queue)
    job_id = harness.create(JobType.BULK_IMPORT, [{"title": f"Sharded {i}"} for i in range(200)])
    for task in harness.start(job_id):
        harness.processor.handle(task)
    shards = list(TenantRoot(wiring.firestore_client(), scope).collection(STATS).stream())
    assert 1 < len(shards) <= wiring.stats_shards()  # 5 batches, each its own shard (as a rule)
    # Counted into fewer shards from now on: nothing is lost.
    knock_off_with = TenantRoot(wiring.firestore_client(), scope)
    wire.commit(wiring.firestore_client(), counter_writes(knock_off_with, {("products", "DRAFT"): 1}, "x", 1))
    assert stats(client, auth)["products"]["by_status"] == {"ACTIVE": 200, "DRAFT": 1, "ARCHIVED": 0}


@pytest.mark.parametrize("role", ["ADMIN", "EDITOR", "VIEWER"])
def test_every_role_may_read(client: Any, keys: Any, scope: Scope, role: str) -> None:
    assert client.get(STATS_PATH, headers=headers(keys[0], scope, role=role)).status_code == 200


class FailingRecount:
    def reconcile(self, as_of: Any) -> Any:
        raise UnavailableError("the past versions are gone")


def test_a_recount_that_fails_leaves_the_sweep_going(jobs: JobsApi, scope: Scope) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Swept anyway"}])
    sweep = sweep_of(scope)
    sweep.counters_for = lambda _: FailingRecount()
    report = sweep.run(60)
    assert (report.status, report.products, report.counters_corrected) == ("completed", 1, 0)
