"""Validation issues end to end: evaluated on every write, listed while unresolved, resolved by
fixing the data, and found again from scratch by the sweep."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore.quality import FirestoreIssueStore
from shared.adapters.firestore.sweep import FirestoreSweepStore
from shared.domain.catalog import Collection
from shared.domain.tenancy import Scope
from shared.services.sweep import LEASE, Sweep, SweepCursor, SweepReport
from tests.integration.conftest import JobsApi
from tests.support import concurrently, headers, new_scope

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
    write = client.batch()
    for fields in products:
        pid = str(uuid.uuid4())
        now = datetime.now(UTC)
        write.set(
            col.document(pid),
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
            },
        )
        ids.append(pid)
        if len(ids) % 400 == 0:
            write.commit()
            write = client.batch()
    write.commit()
    return ids


def sweep_of(scope: Scope, name: str | None = None, page_size: int | None = None) -> Sweep:
    """The production sweep, limited to one test's tenant (the emulator holds every test's data);
    its own page size unless one is given."""
    client = wiring.firestore_client()
    store = FirestoreSweepStore(client, name or f"test-{scope.tenant_id}", tenant_ids={scope.tenant_id})
    sized = {"page_size": page_size} if page_size else {}
    return Sweep(store, wiring.quality, lambda s: FirestoreIssueStore(client, s), wiring.utc_now, **sized)


def sweep_until_done(scope: Scope, budget: float = 60, page_size: int | None = None) -> list[dict[str, Any]]:
    reports = []
    while True:
        report = sweep_of(scope, page_size=page_size).run(budget).model_dump()
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


def test_how_a_sweep_pages_changes_nothing_it_finds_or_counts(client: Any, keys: tuple[Path, Path]) -> None:
    """The same catalog in two tenants, swept a product at a time and all at once, in one run each."""
    catalog = [{"title": f"Twin {i}", "sku": "TWIN" if i % 2 else f"T{i}", "barcode": "123"} for i in range(5)]
    small, large = new_scope(), new_scope()
    ids = {s: write_behind_the_back(s, catalog) for s in (small, large)}

    def sweep(s: Scope, page_size: int) -> dict[str, Any]:
        return sweep_of(s, page_size=page_size).run(60).model_dump()

    first = sweep(small, 1), sweep(large, 300)
    assert first[0] == first[1] and first[0]["status"] == "completed" and first[0]["products"] == 5
    assert first[0]["issue_writes"] > 0 and first[0]["cursor"] is None
    # Nothing changed since: nothing to write.
    assert [sweep(s, size)["issue_writes"] for s, size in ((small, 1), (large, 300))] == [0, 0]
    # Products deleted behind its back: each sweep resolves their issues, writing as much.
    for s in (small, large):
        for pid in ids[s][:3]:
            wiring.firestore_client().document(f"tenants/{s.tenant_id}/orgs/{s.org_id}/products/{pid}").delete()
    after = sweep(small, 1), sweep(large, 300)
    assert after[0] == after[1] and after[0]["products"] == 2 and after[0]["issue_writes"] > 0
    for s in (small, large):
        left = issues(client, headers(keys[0], s))
        assert {pid for pid, _, _ in left} == set(ids[s][3:])


def test_a_new_pass_waits_for_the_interval_after_the_last_one_ended(scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": f"Rested {i}"} for i in range(3)])
    now = [wiring.utc_now()]
    client = wiring.firestore_client()

    def sweep(page_size: int = 300, rest: timedelta = timedelta(hours=24)) -> Sweep:
        store = FirestoreSweepStore(client, f"test-{scope.tenant_id}", tenant_ids={scope.tenant_id})
        issues_of = lambda s: FirestoreIssueStore(client, s)  # noqa: E731
        return Sweep(store, wiring.quality, issues_of, lambda: now[0], page_size, min_interval=rest)

    assert (sweep().run(60).status, sweep().run(60).status) == ("completed", "resting")  # the first pass ever runs
    now[0] += timedelta(hours=23, minutes=59)
    rested = sweep().run(60)
    assert (rested.status, rested.products) == ("resting", 0)
    now[0] += timedelta(minutes=1)
    paused = sweep(page_size=1).run(0.000001)  # a pass that pauses part way ...
    assert (paused.status, paused.products) == ("paused", 1)
    # ... is resumed, not rested, even by a sweep told to rest longer (the setting raised meanwhile)
    resumed = sweep(rest=timedelta(hours=48)).run(60)
    assert (resumed.status, resumed.products, sweep().run(60).status) == ("completed", 2, "resting")


def test_a_sweep_evaluates_300_products_a_page(scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": f"Many {i}"} for i in range(301)])
    first = sweep_of(scope).run(0.000001)
    assert (first.status, first.products) == ("paused", 300)
    assert sweep_of(scope).run(60).products == 1


def test_a_sweep_whose_lease_was_taken_over_stops(scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": f"Taken {i}"} for i in range(3)])
    name = f"takeover-{uuid.uuid4()}"

    class TakenOver(FirestoreSweepStore):
        def save(self, owner: str, cursor: SweepCursor | None, now: datetime, lease: timedelta) -> bool:
            # Another run, finding the lease expired (this one stalled), takes it over first.
            FirestoreSweepStore(wiring.firestore_client(), name).acquire("another", now + LEASE * 2, LEASE)
            return super().save(owner, cursor, now, lease)

    store = TakenOver(wiring.firestore_client(), name, tenant_ids={scope.tenant_id})
    client = wiring.firestore_client()
    report = Sweep(store, wiring.quality, lambda s: FirestoreIssueStore(client, s), wiring.utc_now, 1).run(60)
    assert (report.status, report.products) == ("busy", 1)  # one page, then it found the lease gone


class MeetsAtTheLease(FirestoreSweepStore):
    """Runs that ask for the lease at the same moment and go on only once both have their answer."""

    def __init__(self, name: str, scope: Scope, barrier: threading.Barrier) -> None:
        super().__init__(wiring.firestore_client(), name, tenant_ids={scope.tenant_id})
        self.barrier = barrier

    def acquire(self, owner: str, now: datetime, lease: timedelta) -> tuple[bool, SweepCursor | None]:
        self.barrier.wait(timeout=30)
        answer = super().acquire(owner, now, lease)
        self.barrier.wait(timeout=30)
        return answer


def test_a_paused_sweep_resumes_where_it_stopped_across_orgs(client: Any, keys: tuple[Path, Path]) -> None:
    tenant = str(uuid.uuid4())
    first, second = (Scope(tenant, org) for org in sorted(str(uuid.uuid4()) for _ in range(2)))
    ids = {
        s: write_behind_the_back(s, [{"title": f"Direct {i}", "sku": "SAME"} for i in range(3)])
        for s in (first, second)
    }
    reports = sweep_until_done(first, budget=0.000001, page_size=2)  # pauses after every page
    # Each org: a page of 2, a page of 1, then the orphan pass; every product evaluated once.
    assert [r["status"] for r in reports] == ["paused"] * (len(reports) - 1) + ["completed"]
    assert sum(r["products"] for r in reports) == 6
    assert [(r["cursor"]["org_id"], r["cursor"]["phase"]) for r in reports[:2]] == [
        (first.org_id, "products"),
        (first.org_id, "products"),
    ]
    for s in (first, second):
        found = issues(client, headers(keys[0], s), code="DUPLICATE_SKU")
        assert found == {(pid, "DUPLICATE_SKU", None) for pid in ids[s]}  # within its own org only
    # Deleted behind its back: the orphan pass, paused and resumed page by page, resolves them all.
    for s in (first, second):
        for pid in ids[s]:
            wiring.firestore_client().document(f"tenants/{tenant}/orgs/{s.org_id}/products/{pid}").delete()
    sweep_until_done(first, budget=0.000001, page_size=2)
    assert [issues(client, headers(keys[0], s)) for s in (first, second)] == [set(), set()]


def test_a_sweep_paused_in_the_orphan_pass_resumes_there(client: Any, keys: tuple[Path, Path], scope: Scope) -> None:
    """Products deleted behind the sweep's back, each with an issue of its own (distinct SKUs, so
    judging one does not judge another as a holder of its SKU): a sweep paused after every page of
    the orphan pass resumes within it, and resolves every one of them."""
    ids = write_behind_the_back(scope, [{"title": f"Gone {i}", "sku": f"GONE-{i}"} for i in range(5)])
    wiring.quality(scope).evaluate(ids)
    auth = headers(keys[0], scope)
    assert issues(client, auth, code="MISSING_DESCRIPTION") == {(pid, "MISSING_DESCRIPTION", None) for pid in ids}
    for pid in ids:
        wiring.firestore_client().document(f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products/{pid}").delete()
    reports = sweep_until_done(scope, budget=0.000001, page_size=2)  # pauses after every page
    assert issues(client, auth) == set()
    assert [(r["cursor"] or {}).get("phase") for r in reports[:3]] == ["orphans"] * 3  # pages of 2, 2 and 1


def test_scopes_are_listed_in_id_order_from_where_a_sweep_stopped() -> None:
    tenants, orgs = (sorted(str(uuid.uuid4()) for _ in range(2)) for _ in range(2))
    scopes = [Scope(t, o) for t in tenants for o in orgs]
    for s in scopes:
        write_behind_the_back(s, [{"title": "Listed"}])
    store = FirestoreSweepStore(wiring.firestore_client(), f"list-{uuid.uuid4()}", tenant_ids=set(tenants))
    assert list(store.scopes(None)) == scopes
    assert list(store.scopes((tenants[0], orgs[1]))) == scopes[1:]  # from there on, inclusive
    assert list(store.scopes((tenants[1], orgs[0]))) == scopes[2:]
    assert list(store.scopes((tenants[1], orgs[1] + "\uffff"))) == []  # just past the last
    only = FirestoreSweepStore(wiring.firestore_client(), "unused", tenant_ids={tenants[1]})
    assert list(only.scopes(None)) == scopes[2:]


def test_two_sweeps_at_once_do_not_both_run(scope: Scope) -> None:
    write_behind_the_back(scope, [{"title": "Direct", "sku": "Q"}])
    name = f"race-{uuid.uuid4()}"
    barrier = threading.Barrier(2)

    def run() -> SweepReport:
        client = wiring.firestore_client()
        store = MeetsAtTheLease(name, scope, barrier)
        return Sweep(store, wiring.quality, lambda s: FirestoreIssueStore(client, s), wiring.utc_now).run(60)

    reports = concurrently(run, run)
    # One took the lease and swept; the other was refused and evaluated nothing.
    assert sorted((r.status, r.products, r.issue_writes > 0) for r in reports) == [  # type: ignore[union-attr]
        ("busy", 0, False),
        ("completed", 1, True),
    ]
    assert sweep_of(scope, name).run(60).status == "completed"  # the lease was released


def test_the_lease_is_one_owners_until_it_expires_or_is_released(scope: Scope) -> None:
    store = FirestoreSweepStore(wiring.firestore_client(), f"lease-{uuid.uuid4()}", tenant_ids={scope.tenant_id})
    now = wiring.utc_now()
    cursor = SweepCursor(tenant_id=scope.tenant_id, org_id=scope.org_id, after="p-1")
    assert store.acquire("a", now, LEASE) == (True, None)
    assert store.acquire("b", now + LEASE - timedelta(microseconds=1), LEASE) == (False, None)  # still held
    assert store.save("a", cursor, now, LEASE) is True
    assert store.save("b", None, now, LEASE) is False  # only the holder saves
    assert store.acquire("a", now, LEASE) == (True, cursor)  # the holder may take it again
    # At its end the lease is free: another run takes it over and resumes from the saved cursor.
    assert store.acquire("b", now + LEASE, LEASE) == (True, cursor)
    assert store.save("a", None, now + LEASE, LEASE) is False  # the old holder has lost it
    store.release("a", completed=True, now=now)  # and cannot release it
    assert store.acquire("c", now + LEASE, LEASE) == (False, None)
    store.release("b", completed=False, now=now + LEASE)  # paused: the cursor stays
    assert store.acquire("c", now + LEASE, LEASE) == (True, cursor)
    store.release("c", completed=True, now=now + LEASE)  # done: the next run starts afresh
    assert store.acquire("d", now + LEASE, LEASE) == (True, None)


def test_saved_progress_extends_the_lease_and_the_record_says_when_the_sweep_ran(scope: Scope) -> None:
    client = wiring.firestore_client()
    name = f"record-{uuid.uuid4()}"
    store = FirestoreSweepStore(client, name, tenant_ids={scope.tenant_id})
    now = wiring.utc_now()
    assert store.acquire("a", now, LEASE) == (True, None)
    assert store.save("a", None, now + LEASE / 2, LEASE) is True  # the lease now runs to now + 1.5 LEASE
    assert store.acquire("b", now + LEASE, LEASE) == (False, None)  # held past its first end
    assert store.acquire("b", now + LEASE * 3 / 2, LEASE) == (True, None)
    store.release("b", completed=True, now=now + LEASE * 2)
    assert store.save("b", None, now + LEASE * 2, LEASE) is False  # a released run holds nothing
    # The record an operator reads: when the last sweep started and when it finished, no one holding it.
    record = client.collection("system").document(name).get().to_dict()
    assert (record["owner"], record["started_at"], record["completed_at"]) == (
        None,
        now + LEASE * 3 / 2,
        now + LEASE * 2,
    )


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


def test_an_evaluation_of_a_product_as_read_before_an_edit_writes_nothing_over_the_edits_judgement(
    jobs: JobsApi, client: Any, scope: Scope
) -> None:
    """A re-evaluation judges a page of products as it streamed them: one edited since (and judged
    by its own write) is read anew, not judged as it was, which would reopen what the edit fixed."""
    (pid,) = write_behind_the_back(
        scope, [{"title": "Edited meanwhile", "sku": "EM-1", **{**GOOD, "description": None}}]
    )
    quality = wiring.quality(scope)
    quality.evaluate([pid])
    as_read = quality.catalog.get_many(Collection.PRODUCTS, [pid])  # the page, streamed
    edit = client.put(f"/api/v1/pim/products/{pid}", json={"description": GOOD["description"]}, headers=jobs.auth)
    assert edit.status_code == 200 and issues(client, jobs.auth) == set()
    assert quality.evaluate([pid], as_read, recorded=True) == 0  # nothing reopened, then resolved again
    assert issues(client, jobs.auth) == set()


def test_an_evaluation_reading_a_product_just_before_an_edit_writes_nothing_over_the_edits_judgement(
    jobs: JobsApi, client: Any, scope: Scope
) -> None:
    """Summaries are read before products: a product read just before an edit is judged against a
    summary at least as old, so the edit's own evaluation, written in between, is not written over
    (the late judgement finds the summary moved, or has nothing to change)."""
    (pid,) = write_behind_the_back(
        scope, [{"title": "Edited while read", "sku": "EW-1", **{**GOOD, "description": None}}]
    )
    wiring.quality(scope).evaluate([pid])
    edited: list[int] = []

    class EditedJustAfterRead:
        def __init__(self, store: Any) -> None:
            self.store = store

        def get_many(self, collection: Collection, ids: list[str]) -> Any:
            found = self.store.get_many(collection, ids)
            if not edited:
                body = {"description": GOOD["description"]}
                edited.append(client.put(f"/api/v1/pim/products/{pid}", json=body, headers=jobs.auth).status_code)
            return found

        def __getattr__(self, name: str) -> Any:
            return getattr(self.store, name)

    quality = wiring.quality(scope)
    late = type(quality)(scope, EditedJustAfterRead(quality.catalog), quality.issues, quality.clock)
    assert late.evaluate([pid]) == 0
    assert edited == [200] and issues(client, jobs.auth) == set()
