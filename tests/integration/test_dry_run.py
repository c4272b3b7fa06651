"""Dry runs of each job type through the API, processed for real: nothing written (products, audit
log and validation issues unchanged), and the report and per-item errors the same as the real job
gives, run on a twin tenant holding the same catalog."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.domain.models import JobStatus, JobType
from shared.domain.tenancy import Principal, Role, Scope
from tests.integration.conftest import B, CapturedQueue, JobsApi
from tests.integration.test_bulk_processing import Harness
from tests.support import concurrently, headers, new_scope

SEED = [
    {"title": "Existing lamp with a long title", "sku": "DUP-1", "description": "x" * 60, "brand": "Acme"},
    {"title": "Existing desk", "sku": "DESK-1", "category": "Furniture"},
    {"title": "Existing chair", "sku": "CHAIR-1", "barcode": "4006381333931"},
]


class Tenant:
    """One tenant with the seed catalog, read through the API."""

    def __init__(self, client: Any, keys: tuple[Path, Path]) -> None:
        self.client = client
        self.auth = headers(keys[0], new_scope())
        self.jobs = JobsApi(client, self.auth)
        assert self.jobs.run("BULK_IMPORT", SEED)["status"] == "COMPLETED"
        self.ids = {p["sku"]: p["id"] for p in self.jobs.products()}

    def get(self, path: str, **query: Any) -> Any:
        resp = self.client.get(f"{B}/{path}", query_string=query, headers=self.auth)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.get_json()

    def state(self) -> dict[str, Any]:
        return {name: self.get(name) for name in ("products", "audit-logs", "validation-issues")}

    def run(self, job_type: str, payload: list[Any], dry_run: bool) -> dict[str, Any]:
        body = {"job_type": job_type, "payload": payload, "dry_run": dry_run}
        resp = self.client.post(f"{B}/bulk-jobs", json=body, headers=self.auth)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["dry_run"] is dry_run
        return self.jobs.wait(resp.get_json()["id"])

    def issues_of(self, product_ids: set[str]) -> dict[str, int]:
        items = self.get("validation-issues", limit=100)["items"]
        return dict(Counter(i["code"] for i in items if i["product_id"] in product_ids))


@pytest.fixture()
def twins(client: Any, keys: tuple[Path, Path]) -> tuple[Tenant, Tenant]:
    return Tenant(client, keys), Tenant(client, keys)


def imports(t: Tenant) -> list[Any]:
    return [
        {"title": "New lamp", "sku": "DUP-1"},  # a SKU the catalog holds
        {"title": "Twin one", "sku": "PAY-1", "description": "y" * 80},  # a SKU held twice in the payload
        {"title": "Twin two", "sku": "PAY-1", "barcode": "123"},
        {"sku": "no title"},
        {"title": "Unknown brand", "brand_id": str(uuid.uuid4())},
        {"title": "Plain"},
    ]


def updates(t: Tenant) -> list[Any]:
    return [
        {"id": t.ids["DESK-1"], "sku": "CHAIR-1"},  # takes a SKU another product holds
        {"id": t.ids["CHAIR-1"], "description": "z" * 70},
        {"id": t.ids["CHAIR-1"], "title": "Folded into the same write"},
        {"id": str(uuid.uuid4()), "title": "ghost"},
        {"title": "no id"},
        {"id": t.ids["DUP-1"], "category_id": str(uuid.uuid4())},
    ]


def deletes(t: Tenant) -> list[Any]:
    return [t.ids["DESK-1"], str(uuid.uuid4()), t.ids["DESK-1"], "not-an-id"]


CASES: dict[str, tuple[str, Callable[[Tenant], list[Any]]]] = {
    "import": ("BULK_IMPORT", imports),
    "update": ("BULK_UPDATE", updates),
    "delete": ("BULK_DELETE", deletes),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_dry_run_writes_nothing_and_reports_what_the_job_would_do(twins: tuple[Tenant, Tenant], case: str) -> None:
    dry, real = twins
    job_type, payload = CASES[case]
    before = dry.state()
    judged = dry.run(job_type, payload(dry), dry_run=True)
    assert dry.state() == before  # no product, audit event or issue written

    was = {p["id"]: p for p in real.jobs.products()}
    done = real.run(job_type, payload(real), dry_run=False)
    assert done["dry_run_report"] is None
    assert judged["status"] == "COMPLETED"
    assert (judged["processed_items"], judged["failed_items"]) == (done["processed_items"], done["failed_items"])
    assert [(e["index"], e["code"]) for e in judged["errors"]] == [(e["index"], e["code"]) for e in done["errors"]]

    after = {p["id"]: p for p in real.jobs.products()}
    created = {pid for pid in after if pid not in was}
    changed = {pid for pid in after if pid in was and after[pid]["updated_at"] != was[pid]["updated_at"]}
    report = judged["dry_run_report"]
    assert report == {
        "creates": len(created),
        "updates": len(changed),
        "deletes": len(set(was) - set(after)),
        "issues": dict(sorted(real.issues_of(created | changed).items())),
    }
    assert report["creates"] + report["updates"] + report["deletes"] > 0


def test_the_reports_say_what_was_found(twins: tuple[Tenant, Tenant]) -> None:
    """The figures of the import case written out, so that the comparison above cannot pass on
    two reports that are wrong the same way."""
    dry, _ = twins
    report = dry.run("BULK_IMPORT", imports(dry), dry_run=True)["dry_run_report"]
    assert (report["creates"], report["updates"], report["deletes"]) == (4, 0, 0)
    assert report["issues"]["DUPLICATE_SKU"] == 3  # one against the catalog, two within the payload
    assert report["issues"]["INVALID_BARCODE"] == 1
    assert report["issues"]["MISSING_SKU"] == 1


def test_a_dry_run_whose_every_item_fails_still_completes(twins: tuple[Tenant, Tenant]) -> None:
    dry, _ = twins
    job = dry.run("BULK_DELETE", [str(uuid.uuid4()), str(uuid.uuid4())], dry_run=True)
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 0, 2)
    assert job["dry_run_report"] == {"creates": 0, "updates": 0, "deletes": 0, "issues": {}}


# --- at-least-once delivery of a dry run's batches -------------------------------------------------
@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue) -> Harness:
    return Harness(scope, queue)


def test_a_dry_runs_batches_delivered_twice_and_at_once_report_each_item_once(harness: Harness) -> None:
    actor = Principal(email="owner@example.com", role=Role.ADMIN, scope=harness.scope)
    payload = [{"title": f"Item {i}", "sku": f"S{i % 50}"} if i % 10 else {"sku": "untitled"} for i in range(120)]
    job_id = harness.jobs.create(actor, JobType.BULK_IMPORT, payload, dry_run=True).id
    first, second, third = harness.start(job_id)
    harness.processor.handle(first)
    harness.processor.handle(first)  # redelivered
    concurrently(lambda: harness.processor.handle(second), lambda: harness.processor.handle(second))
    harness.processor.handle(third)
    harness.processor.handle(third)  # after the job finished
    job = harness.job(job_id)
    assert (job.status, job.processed_items, job.failed_items, job.batches_done) == (JobStatus.COMPLETED, 108, 12, 3)
    assert job.dry_run_report is not None
    # 108 products holding 50 SKUs, each SKU held by at least two of them: every one a duplicate.
    assert (job.dry_run_report.creates, job.dry_run_report.issues["DUPLICATE_SKU"]) == (108, 108)
    assert job.dry_run_report.issues["MISSING_DESCRIPTION"] == 108
    assert harness.product_count() == 0 and harness.events(job_id) == []
