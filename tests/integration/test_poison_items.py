"""Poison values: what Firestore cannot store is refused field by field before anything is planned,
so a bulk job holding such items among good ones completes with the good ones applied, and a
single request answers 400 naming the field. And if a value ever slipped past those rules, the
store's refusal fails only the items it concerns: the rest of their batch still commits, once."""

from __future__ import annotations

import json
import math
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared import wiring
from shared.domain.audit import ChangeContext
from shared.domain.bulk import BatchInputs, BatchPlan, parse_batch_slice, plan_batch
from shared.domain.catalog import Collection, Write
from shared.domain.models import BulkJob, JobType
from shared.domain.sizes import DOCUMENT_OVERHEAD, MAX_DOCUMENT_BYTES, NAME_ALLOWANCE, value_size
from shared.domain.tenancy import Scope
from shared.errors import StoreRefusedError
from shared.services.batch_commit import commit_batch
from tests.integration.conftest import CapturedQueue
from tests.integration.test_bulk_processing import Harness, assert_exact

P = "/api/v1/pim/products"

HUGE_TEXT = "x" * (1024 * 1024 + 1)  # more than a whole Firestore document holds
# Every field within its own limit, together over a product's 500,000 bytes.
TOO_LARGE = {
    "description": "\N{GRINNING FACE}" * 50_000,
    "attributes": {f"attribute-{i:03d}": "v" * 1_500 for i in range(200)},
}

# (what, the values an item or a request sends, the field its error must name)
POISON: list[tuple[str, dict[str, Any], str]] = [
    ("reserved brand id", {"brand_id": "__x__"}, "brand_id"),
    ("brand id with a slash", {"brand_id": "a/b"}, "brand_id"),
    ("brand id of a dot", {"brand_id": "."}, "brand_id"),
    ("reserved category id", {"category_id": "__x__"}, "category_id"),
    ("integer over int64", {"attributes": {"n": 2**63}}, "attributes.n"),
    ("integer under int64", {"attributes": {"n": -(2**63) - 1}}, "attributes.n"),
    ("text over 1 MiB", {"attributes": {"s": HUGE_TEXT}}, "attributes.s"),
    ("reserved attribute name", {"attributes": {"__name__": "x"}}, "attributes.__name__"),
    ("infinite number", {"attributes": {"f": math.inf}}, "attributes.f"),
    ("not a number", {"attributes": {"f": math.nan}}, "attributes.f"),
    ("nested attribute", {"attributes": {"m": {"deeper": 1}}}, "attributes.m"),
    ("unpaired surrogate", {"description": "\ud800"}, "description"),
    ("unpaired surrogate in a name", {"attributes": {"\udc00": 1}}, "attributes"),
    ("unpaired surrogate in an attribute", {"attributes": {"t": "a\udbff"}}, "attributes.t"),
    ("product over the size limit", TOO_LARGE, "attributes"),
]
IDS = [what for what, _, _ in POISON]


@pytest.fixture()
def harness(scope: Scope, queue: CapturedQueue[Any]) -> Harness:
    return Harness(scope, queue)


def run(harness: Harness, job_type: JobType, payload: list[Any]) -> BulkJob:
    job_id = harness.create(job_type, payload)
    for task in harness.start(job_id):
        harness.processor.handle(task)
    return harness.job(job_id)


def errors_by_index(harness: Harness, job_id: str) -> dict[int, Any]:
    return {e.index: e for e in harness.store.job_errors(job_id, 1000, None).items}


def test_an_import_completes_with_every_poison_item_refused_and_the_good_ones_applied(harness: Harness) -> None:
    payload: list[dict[str, Any]] = []
    bad: dict[int, str] = {}
    for i, (_, values, field) in enumerate(POISON):
        payload.append({"title": f"Good {i}", "sku": f"G{i}"})
        bad[len(payload)] = field
        payload.append({"title": f"Bad {i}", **values})
    payload.append({"title": "Good last"})
    job_id = harness.create(JobType.BULK_IMPORT, payload)
    tasks = harness.start(job_id)
    assert len(tasks) == 1  # every poison value in one batch with the good items
    harness.processor.handle(tasks[0])
    assert_exact(harness.job(job_id), len(payload) - len(bad), len(bad))
    errors = errors_by_index(harness, job_id)
    assert set(errors) == set(bad)
    for index, field in bad.items():
        assert errors[index].code == "INVALID_ITEM" and errors[index].message.startswith(field), errors[index]
    good = {item["title"] for i, item in enumerate(payload) if i not in bad}
    assert {p.title for p in harness.products()} == good
    assert len(harness.events(job_id)) == len(good)


def test_an_update_completes_with_every_poison_item_refused_and_the_good_ones_applied(harness: Harness) -> None:
    count = len(POISON) + 3
    run(harness, JobType.BULK_IMPORT, [{"title": f"P{i:02d}"} for i in range(count)])
    products = sorted(harness.products(), key=lambda p: p.title)
    payload: list[dict[str, Any]] = []
    bad: dict[int, str] = {}
    for product, (_, values, field) in zip(products, POISON, strict=False):
        bad[len(payload)] = field
        payload.append({"id": product.id, **values})
    *_, renamed, grown = products
    payload.append({"id": renamed.id, "title": "Renamed"})
    # Two items folded into one write: the one that makes the product too large is refused alone.
    payload.append({"id": grown.id, "description": TOO_LARGE["description"]})
    bad[len(payload)] = "attributes"
    payload.append({"id": grown.id, "attributes": TOO_LARGE["attributes"]})
    job = run(harness, JobType.BULK_UPDATE, payload)
    assert_exact(job, len(payload) - len(bad), len(bad))
    errors = errors_by_index(harness, job.id)
    assert set(errors) == set(bad)
    for index, field in bad.items():
        error = errors[index]
        assert (error.code, error.id) == ("INVALID_ITEM", payload[index]["id"])
        assert error.message.startswith(field), error
    after = {p.id: p for p in harness.products()}
    assert all(after[p.id] == p for p in products[: len(POISON)])  # untouched
    assert after[renamed.id].title == "Renamed"
    assert (after[grown.id].description, after[grown.id].attributes) == (TOO_LARGE["description"], {})


def test_a_reference_in_capitals_is_found_and_stored_as_issued(harness: Harness, api: Api) -> None:
    brand = api.ok("POST", "/api/v1/pim/brands", {"name": "Acme"})
    category = api.ok("POST", "/api/v1/pim/categories", {"name": "Lamps"})
    job = run(
        harness,
        JobType.BULK_IMPORT,
        [{"title": "Lamp", "brand_id": brand["id"].upper(), "category_id": f" {category['id'].upper()} "}],
    )
    assert_exact(job, 1, 0)
    [product] = harness.products()
    assert (product.brand_id, product.category_id) == (brand["id"], category["id"])


def test_an_id_with_an_unpaired_surrogate_is_reported_not_found(harness: Harness) -> None:
    run(harness, JobType.BULK_IMPORT, [{"title": "Keep"}])
    [product] = harness.products()
    job = run(harness, JobType.BULK_DELETE, ["\ud800", product.id])
    assert_exact(job, 1, 1)
    [error] = errors_by_index(harness, job.id).values()
    assert (error.index, error.code, error.id) == (0, "NOT_FOUND", "?")  # recorded as storable text


# --- single requests -------------------------------------------------------------------------
class Api:
    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client, self.auth = client, auth

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.open(path, method=method, json=body, headers=self.auth)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        resp = self(method, path, body)
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)[:400]
        return resp.get_json()

    def refused(self, method: str, path: str, body: Any, field: str) -> None:
        resp = self(method, path, body)
        assert resp.status_code == 400, resp.get_data(as_text=True)[:400]
        error = resp.get_json()
        if not strict_json(body):
            # NaN, infinities and unpaired surrogates are not JSON: the edge refuses the whole body
            # before any model sees it (the models refuse them too, for values from elsewhere).
            assert error["code"] == "INVALID_JSON" and error["details"][0]["field"] == "body", error
            return
        assert any(d["field"].startswith(field) for d in error["details"]), error


def strict_json(body: Any) -> bool:
    try:
        json.dumps(body, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError):
        return False
    return True


@pytest.fixture()
def api(client: Any, auth: dict[str, str]) -> Api:
    return Api(client, auth)


@pytest.mark.parametrize(("values", "field"), [(v, f) for _, v, f in POISON], ids=IDS)
def test_a_poison_value_in_a_product_request_is_a_400_naming_the_field(
    api: Api, values: dict[str, Any], field: str
) -> None:
    api.refused("POST", P, {"title": "New", **values}, field)
    product = api.ok("POST", P, {"title": "Kept"})
    api.refused("PUT", f"{P}/{product['id']}", values, field)
    assert api.ok("GET", P)["items"] == [product]


VARIANT_POISON = [(v, f) for _, v, f in POISON if f.startswith("attributes.")] + [({"sku": "\ud800"}, "sku")]


@pytest.mark.parametrize(("values", "field"), VARIANT_POISON, ids=[f for _, f in VARIANT_POISON])
def test_a_poison_value_in_a_variant_request_is_a_400_naming_the_field(
    api: Api, values: dict[str, Any], field: str
) -> None:
    product = api.ok("POST", P, {"title": "Shirt"})
    variants = f"{P}/{product['id']}/variants"
    api.refused("POST", variants, values, field)
    variant = api.ok("POST", variants, {"sku": "S-1"})
    api.refused("PUT", f"{variants}/{variant['id']}", values, field)
    assert api.ok("GET", variants)["items"] == [variant]


def test_a_variant_that_would_make_its_product_too_large_is_a_400(api: Api) -> None:
    product = api.ok("POST", P, {"title": "Shirt", "description": TOO_LARGE["description"]})
    variants = f"{P}/{product['id']}/variants"
    body = {"attributes": {f"attribute-{i:02d}": "v" * 1_500 for i in range(50)}}  # about 77 KB each
    for _ in range(3):
        api.ok("POST", variants, body)
    api.refused("POST", variants, body, "attributes")
    assert len(api.ok("GET", variants)["items"]) == 3


@pytest.mark.parametrize("parent_id", ["__x__", "a/b", ".", "\ud800"])
def test_a_category_parent_that_is_no_id_is_a_400(api: Api, parent_id: str) -> None:
    api.refused("POST", "/api/v1/pim/categories", {"name": "Lamps", "parent_id": parent_id}, "parent_id")
    category = api.ok("POST", "/api/v1/pim/categories", {"name": "Lamps"})
    api.refused("PUT", f"/api/v1/pim/categories/{category['id']}", {"parent_id": parent_id}, "parent_id")


def test_a_parent_id_in_capitals_names_the_same_category(api: Api) -> None:
    parent = api.ok("POST", "/api/v1/pim/categories", {"name": "Lighting"})
    child = api.ok("POST", "/api/v1/pim/categories", {"name": "Lamps", "parent_id": parent["id"].upper()})
    assert child["parent_id"] == parent["id"]
    brand = api.ok("POST", "/api/v1/pim/brands", {"name": "Acme"})
    product = api.ok("POST", P, {"title": "Lamp", "brand_id": brand["id"].upper()})
    assert product["brand_id"] == brand["id"]


@pytest.mark.parametrize("path", ["/api/v1/pim/brands", "/api/v1/pim/categories"])
@pytest.mark.parametrize("field", ["name", "description"])
def test_an_unpaired_surrogate_in_a_brand_or_category_is_a_400(api: Api, path: str, field: str) -> None:
    api.refused("POST", path, {"name": "Acme", field: "bad \ud800"}, field)
    created = api.ok("POST", path, {"name": "Acme"})
    api.refused("PUT", f"{path}/{created['id']}", {field: "bad \udfff"}, field)


# --- defence in depth: data the store refuses, whatever the domain let through ---------------
def planned(harness: Harness, job_id: str, inputs: BatchInputs | None = None) -> tuple[BulkJob, BatchPlan]:
    """The domain's own plan of the job's single batch, as the worker would make it."""
    job = harness.job(job_id)
    [batch] = job.batches
    items = parse_batch_slice(wiring.payload_store().read(job.payload_object, batch.start, batch.end))
    ctx = ChangeContext(job.tenant_id, job.org_id, job.created_by, wiring.utc_now(), job_id=job.id)
    return job, plan_batch(job.job_type, items, 0, inputs or BatchInputs(), ctx)


def poisoned_import(harness: Harness) -> tuple[BulkJob, BatchPlan]:
    """An import of 8 whose plan then gets, behind the domain's back, one value the store's
    checks refuse, one its encoder cannot hold, and one that overflows a document when applied."""
    job_id = harness.create(JobType.BULK_IMPORT, [{"title": f"P{i}"} for i in range(8)])
    harness.start(job_id)
    job, plan = planned(harness, job_id)
    spoil = {
        1: {"attributes": {"__name__": 1}},
        3: {"attributes": {"n": 2**64}},
        5: {"description": "d" * 600_000, "title": "t" * 500_000},  # each value fits, the document not
    }
    for position, values in spoil.items():
        plan.writes[position] = replace(plan.writes[position], data={**plan.writes[position].data, **values})
    return job, plan


def test_writes_the_store_refuses_fail_their_items_and_the_rest_commits_once(harness: Harness) -> None:
    job, plan = poisoned_import(harness)
    committed, versions = commit_batch(harness.store, job.id, job.batches[0], plan, wiring.utc_now())
    assert versions is not None and len(committed.writes) == 5
    harness.store.mark_evaluated(job.id, 0)  # as the batch's delivery does after judging
    harness.store.finish_job_if_done(job.id, wiring.utc_now())
    assert_exact(harness.job(job.id), 5, 3)
    errors = errors_by_index(harness, job.id)
    assert sorted(errors) == [1, 3, 5]
    assert all(e.code == "INVALID_ITEM" and e.message.startswith("the store refused") for e in errors.values())
    assert "reserved" in errors[1].message and "out of range" in errors[3].message
    assert "entity size" in errors[5].message  # found only when the write is applied
    assert sorted(p.title for p in harness.products()) == ["P0", "P2", "P4", "P6", "P7"]
    assert len(harness.events(job.id)) == 5
    # delivered again, the same plan finds its marker and changes nothing
    assert commit_batch(harness.store, job.id, job.batches[0], plan, wiring.utc_now())[1] is None
    assert_exact(harness.job(job.id), 5, 3)


def test_concurrent_commits_of_a_refused_batch_apply_it_once(harness: Harness) -> None:
    job, plan = poisoned_import(harness)
    barrier = threading.Barrier(3)
    outcomes: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(commit_batch(harness.store, job.id, job.batches[0], plan, wiring.utc_now())[1])

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 3 and sum(o is not None for o in outcomes) == 1
    harness.store.mark_evaluated(job.id, 0)  # as the batch's delivery does after judging
    harness.store.finish_job_if_done(job.id, wiring.utc_now())
    assert_exact(harness.job(job.id), 5, 3)
    assert len(harness.products()) == 5 and len(harness.events(job.id)) == 5


def test_a_job_whose_write_the_store_refuses_completes_through_the_worker(harness: Harness, scope: Scope) -> None:
    """Data the domain cannot see: a product already holds 700 KB in a field no model knows (written
    behind its back), so an update the rules accept takes the document over 1 MiB, which the store
    finds only when it applies the write. The worker fails that item alone and finishes the job."""
    run(harness, JobType.BULK_IMPORT, [{"title": f"P{i}"} for i in range(3)])
    products = sorted(harness.products(), key=lambda p: p.title)
    wiring.firestore_client().document(
        f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products/{products[1].id}"
    ).update({"padding": "p" * 700_000})
    grown = {"description": "d" * 50_000, "attributes": {f"a{i:03d}": "v" * 1_500 for i in range(200)}}
    job = run(harness, JobType.BULK_UPDATE, [{"id": p.id, **grown} for p in products])
    assert_exact(job, 2, 1)
    [error] = errors_by_index(harness, job.id).values()
    assert (error.index, error.id, error.code) == (1, products[1].id, "INVALID_ITEM")
    assert error.message.startswith("the store refused") and "entity size" in error.message
    after = {p.id: p.description for p in harness.products()}
    assert after == {products[0].id: grown["description"], products[1].id: None, products[2].id: grown["description"]}
    assert len(harness.events(job.id)) == 2


def test_a_single_write_the_store_refuses_is_a_400_not_a_500(harness: Harness) -> None:
    # refused by the store when committed, or by the encoder before anything is sent
    for data, refused_by in (({"attributes": {"__name__": 1}}, "catalog"), ({"attributes": {"n": 2**64}}, "write")):
        write = Write("create", Collection.PRODUCTS, str(uuid.uuid4()), {"title": "x", **data})
        with pytest.raises(StoreRefusedError) as err:
            harness.catalog.commit([write], [])
        assert err.value.status == 400
        assert str(err.value) == f"{refused_by}: refused by the store: {err.value.reason}"
    assert harness.products() == []


def test_the_size_estimate_is_the_stores_own_rule_to_the_byte(scope: Scope, stack_env: dict[str, str]) -> None:
    path, other = (f"tenants/{scope.tenant_id}/orgs/{scope.org_id}/products/{uuid.uuid4()}" for _ in "ab")
    name = sum(len(segment) + 1 for segment in path.split("/")) + 16  # the store's rule for names
    assert name <= NAME_ALLOWANCE
    data: dict[str, Any] = {
        "text": "é😀",
        "n": 7,
        "x": 1.5,
        "yes": True,
        "none": None,
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "map": {"k": [1, "two", {"deep": False}]},
        "pad": "",
    }
    data["pad"] = "p" * (MAX_DOCUMENT_BYTES - (name + value_size(data) + DOCUMENT_OVERHEAD))
    assert name + value_size(data) + DOCUMENT_OVERHEAD == MAX_DOCUMENT_BYTES
    client = wiring.firestore_client()
    client.document(path).create(data)  # exactly the limit: stored
    with pytest.raises(gexc.InvalidArgument, match="maximum entity size"):
        client.document(other).create({**data, "pad": data["pad"] + "p"})  # one byte more
