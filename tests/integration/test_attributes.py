"""Attribute definitions and product templates: their endpoints and rules, the values products
may hold, completeness and its issues, and the re-evaluation after a definition or template
changes, page by page."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared import wiring
from shared.domain.tenancy import Scope
from shared.services.reevaluation import Reevaluation
from shared.services.tasks import ReevaluationTask, WorkerTask
from tests.integration.conftest import CapturedQueue, JobsApi, JsonApi
from tests.integration.test_exports import ExportsApi, download
from tests.integration.test_uploads import UploadsApi, csv_bytes
from tests.integration.test_validation_issues import sweep_until_done, write_behind_the_back
from tests.support import headers, new_scope, wait_until

B = "/api/v1/pim"
A = f"{B}/attributes"
T = f"{B}/product-templates"
P = f"{B}/products"
WEIGHT = {"name": "Weight", "slug": "weight", "type": "NUMBER", "unit": "kg", "min": 0, "max": 1000}
MATERIAL = {"name": "Material", "slug": "material", "type": "TEXT"}


def apparel(api: JsonApi) -> str:
    """weight (NUMBER, kg, 0-1000) and material (TEXT), and a template "Apparel" requiring both."""
    api("POST", A, WEIGHT, 201)
    api("POST", A, MATERIAL, 201)
    groups = [{"name": "Fabric Details", "attributes": [{"slug": "material", "required": True}]}]
    groups.append({"name": "Shipping", "attributes": [{"slug": "weight", "required": True}]})
    template: dict[str, Any] = api("POST", T, {"name": "Apparel", "slug": "apparel", "attribute_groups": groups}, 201)
    assert template["attribute_slugs"] == ["material", "weight"]
    return str(template["id"])


# --- definitions ---------------------------------------------------------------------------
def test_a_definition_is_created_listed_changed_and_deleted_each_step_audited(api: JsonApi) -> None:
    created = api("POST", A, WEIGHT, 201)
    assert (created["type"], created["unit"], created["min"], created["max"]) == ("NUMBER", "kg", 0, 1000)
    api("POST", A, {"name": "Colour", "slug": "colour", "type": "SELECT", "options": ["Red", "Blue"]}, 201)
    assert [a["slug"] for a in api("GET", A, expect=200)["items"]] == ["colour", "weight"]  # by name
    assert api("GET", f"{A}/{created['id']}", expect=200) == created
    changed = api("PUT", f"{A}/{created['id']}", {"max": 500, "name": "Shipping weight"}, 200)
    assert (changed["max"], changed["name"], changed["slug"]) == (500, "Shipping weight", "weight")
    api("DELETE", f"{A}/{created['id']}", expect=204)
    api("GET", f"{A}/{created['id']}", expect=404)
    events = api("GET", f"{B}/audit-logs?resource_id={created['id']}", expect=200)["items"]
    assert [e["action"] for e in events] == ["attribute.deleted", "attribute.updated", "attribute.created"]
    assert events[1]["changes"]["max"] == {"before": 1000, "after": 500}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Size", "slug": "size", "type": "SELECT"}, "body"),  # options missing
        ({"name": "Size", "slug": "size", "type": "MULTI_SELECT", "options": []}, "options"),
        ({"name": "Size", "slug": "size", "type": "SELECT", "options": ["S", "s"]}, "body"),  # not distinct
        ({"name": "Note", "slug": "note", "type": "TEXT", "options": ["a"]}, "body"),
        ({"name": "Note", "slug": "note", "type": "TEXT", "unit": "kg"}, "body"),
        ({"name": "Weight", "slug": "weight", "type": "NUMBER", "min": 5, "max": 1}, "body"),
        ({"name": "Weight", "slug": "weight", "type": "COLOUR"}, "type"),  # unknown type
        ({"name": "Weight", "slug": "Weight Kg", "type": "NUMBER"}, "slug"),  # not URL-safe
        ({"name": "Weight", "type": "NUMBER"}, "slug"),
        ({"name": "Weight", "slug": "weight", "type": "NUMBER", "colour": 1}, "colour"),
    ],
)
def test_a_definition_that_does_not_hold_together_is_400(api: JsonApi, body: dict[str, Any], field: str) -> None:
    answer = api("POST", A, body, 400)
    assert field in {d["field"] for d in answer["details"]}, answer


def test_a_change_is_judged_whole_and_a_slug_is_unique(api: JsonApi) -> None:
    weight = api("POST", A, WEIGHT, 201)
    api("POST", A, {**WEIGHT, "name": "Other"}, 409)
    answer = api("PUT", f"{A}/{weight['id']}", {"type": "SELECT"}, 400)  # a SELECT without options
    assert "options" in answer["details"][0]["problem"]
    api("PUT", f"{A}/{weight['id']}", {"slug": None}, 400)
    api("PUT", f"{A}/{weight['id']}", {"type": "TEXT", "unit": None, "min": None, "max": None}, 200)
    api("POST", A, MATERIAL, 201)
    api("PUT", f"{A}/{weight['id']}", {"slug": "material"}, 409)


def test_a_slug_may_change_until_a_product_uses_it(api: JsonApi) -> None:
    weight = api("POST", A, WEIGHT, 201)
    assert api("PUT", f"{A}/{weight['id']}", {"slug": "mass"}, 200)["slug"] == "mass"
    api("POST", P, {"title": "Anvil", "attributes": {"mass": 50}}, 201)
    answer = api("PUT", f"{A}/{weight['id']}", {"slug": "weight"}, 409)
    assert "in use" in answer["error"]


# --- values --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("definition", "good", "bad"),
    [
        (WEIGHT, [0, 12.5, "1000", None], ["heavy", 1000.5, -1, True]),
        ({"name": "Size", "slug": "size", "type": "SELECT", "options": ["S", "M"]}, ["S"], ["XL", "s", 1]),
        ({"name": "Tags", "slug": "tags", "type": "MULTI_SELECT", "options": ["a", "b"]}, ["a|b", "b"], ["a|c", 1]),
        ({"name": "Organic", "slug": "organic", "type": "BOOLEAN"}, [True, "false"], ["yes", 1]),
        ({"name": "Since", "slug": "since", "type": "DATE"}, ["2026-11-30"], ["2026-13-01", "30/11/2026", 3]),
        ({"name": "Manual", "slug": "manual", "type": "URL"}, ["https://x.example/m.pdf"], ["ftp://x", "x", 1]),
        (MATERIAL, ["Cotton"], [1, False]),
    ],
)
def test_values_must_fit_their_definition(
    api: JsonApi, definition: dict[str, Any], good: list[Any], bad: list[Any]
) -> None:
    api("POST", A, definition, 201)
    slug = definition["slug"]
    product = api("POST", P, {"title": "Fits", "attributes": {slug: good[0], "free-form": [1][0]}}, 201)
    for value in good:
        api("PUT", f"{P}/{product['id']}", {"attributes": {slug: value}}, 200)
    for value in bad:
        answer = api("POST", P, {"title": "Does not fit", "attributes": {slug: value}}, 400)
        assert [d["field"] for d in answer["details"]] == [f"attributes.{slug}"], (value, answer)
        api("PUT", f"{P}/{product['id']}", {"attributes": {slug: value}}, 400)


# --- templates and completeness ------------------------------------------------------------
def test_completeness_and_missing_required_attributes_follow_every_write(api: JsonApi) -> None:
    template_id = apparel(api)
    product = api("POST", P, {"title": "Shirt", "template_id": template_id, "attributes": {"weight": 0.2}}, 201)
    assert (product["template_id"], product["completeness"]) == (template_id, 50)
    assert ("MISSING_REQUIRED_ATTRIBUTE", "attributes.material") in api.issues(product["id"])
    assert ("MISSING_REQUIRED_ATTRIBUTE", "attributes.weight") not in api.issues(product["id"])
    plain = api("POST", P, {"title": "Shirt", "attributes": {"weight": 0.2}}, 201)
    assert plain["completeness"] is None
    # The score blends in completeness: round(0.75 * score + 0.25 * completeness).
    assert product["data_quality_score"] == round(0.75 * plain["data_quality_score"] + 0.25 * 50)

    full = api("PUT", f"{P}/{product['id']}", {"attributes": {"weight": 0.2, "material": "Cotton"}}, 200)
    assert full["completeness"] == 100
    assert not {c for c, _ in api.issues(product["id"])} & {"MISSING_REQUIRED_ATTRIBUTE"}
    blank = api("PUT", f"{P}/{product['id']}", {"attributes": {"weight": None, "material": " "}}, 200)
    assert blank["completeness"] == 0
    assert {f for c, f in api.issues(product["id"]) if c == "MISSING_REQUIRED_ATTRIBUTE"} == {
        "attributes.weight",
        "attributes.material",
    }
    assert api("PUT", f"{P}/{product['id']}", {"template_id": None}, 200)["completeness"] is None
    assert not {c for c, _ in api.issues(product["id"])} & {"MISSING_REQUIRED_ATTRIBUTE"}


def test_references_and_a_cycle_free_delete_order(api: JsonApi) -> None:
    template_id = apparel(api)
    unknown = "0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c"
    answer = api("POST", P, {"title": "Shirt", "template_id": unknown}, 400)
    assert answer["details"] == [{"field": "template_id", "problem": "no such product template"}]
    bad_group = {"name": "X", "slug": "x", "attribute_groups": [{"name": "G", "attributes": [{"slug": "nope"}]}]}
    assert api("POST", T, bad_group, 400)["details"][0]["field"] == "attribute_groups[0].attributes[0].slug"
    twice = [{"name": "G", "attributes": [{"slug": "weight"}]}, {"name": "H", "attributes": [{"slug": "weight"}]}]
    api("POST", T, {"name": "X", "slug": "x", "attribute_groups": twice}, 400)
    api("POST", T, {"name": "Apparel 2", "slug": "apparel"}, 409)

    product = api("POST", P, {"title": "Shirt", "template_id": template_id}, 201)
    weight = next(a for a in api("GET", A, expect=200)["items"] if a["slug"] == "weight")
    assert "template" in api("DELETE", f"{A}/{weight['id']}", expect=409)["error"]
    assert "products use it" in api("DELETE", f"{T}/{template_id}", expect=409)["error"]
    api("DELETE", f"{P}/{product['id']}", expect=204)
    api("DELETE", f"{T}/{template_id}", expect=204)
    api("DELETE", f"{A}/{weight['id']}", expect=204)


def test_definitions_and_templates_are_the_tenants_own(api: JsonApi, client: Any, keys: tuple[Path, Path]) -> None:
    template_id = apparel(api)
    weight = api("GET", A, expect=200)["items"][-1]
    other = JsonApi(client, headers(keys[0], new_scope()))
    assert other("GET", A, expect=200)["items"] == [] and other("GET", T, expect=200)["items"] == []
    other("GET", f"{T}/{template_id}", expect=404)
    other("PUT", f"{A}/{weight['id']}", {"name": "Hijacked"}, 404)
    other("DELETE", f"{T}/{template_id}", expect=404)
    other("POST", P, {"title": "Shirt", "template_id": template_id}, 400)  # not theirs
    other("POST", P, {"title": "Free", "attributes": {"weight": "heavy"}}, 201)  # no definition there
    other("POST", A, WEIGHT, 201)  # the same slug in another tenant


# --- bulk items ----------------------------------------------------------------------------
def test_bulk_items_are_held_to_definitions_and_templates(api: JsonApi, jobs: JobsApi) -> None:
    template_id = apparel(api)
    items = [
        {"title": "Shirt 0", "template_id": template_id, "attributes": {"weight": 0.2, "material": "Cotton"}},
        {"title": "Shirt 1", "template_id": template_id, "attributes": {"weight": 0.3}},
        {"title": "Shirt 2", "template_id": template_id, "attributes": {"weight": "heavy", "material": "Wool"}},
        {"title": "Shirt 3", "template_id": "0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c"},
    ]
    job = jobs.run("BULK_IMPORT", items)
    assert (job["processed_items"], job["failed_items"]) == (2, 2)
    assert [(e["index"], e["code"]) for e in job["errors"]] == [(2, "INVALID_ITEM"), (3, "UNKNOWN_REFERENCE")]
    assert job["errors"][0]["message"].startswith("attributes.weight: must be a number (in kg)")
    assert "template_id: no such product template" in job["errors"][1]["message"]
    products = {p["title"]: p for p in jobs.products()}
    assert (products["Shirt 0"]["completeness"], products["Shirt 1"]["completeness"]) == (100, 50)
    assert ("MISSING_REQUIRED_ATTRIBUTE", "attributes.material") in api.issues(products["Shirt 1"]["id"])

    update = jobs.run(
        "BULK_UPDATE",
        [
            {"id": products["Shirt 1"]["id"], "attributes": {"weight": 0.3, "material": "Linen"}},
            {"id": products["Shirt 0"]["id"], "attributes": {"weight": 5000}},
        ],
    )
    assert [(e["index"], e["code"]) for e in update["errors"]] == [(1, "INVALID_ITEM")]
    assert "attributes.weight" in update["errors"][0]["message"]
    assert api("GET", f"{P}/{products['Shirt 1']['id']}", expect=200)["completeness"] == 100
    assert api.issues(products["Shirt 1"]["id"]) & {("MISSING_REQUIRED_ATTRIBUTE", "attributes.material")} == set()


# --- re-evaluation after a change ----------------------------------------------------------
@pytest.fixture()
def pages(monkeypatch: pytest.MonkeyPatch) -> list[ReevaluationTask]:
    """Re-evaluation pages of 4 products (the worker's own service, at a size that needs several
    pages) and no time budget, so that each task stops after its first page and its successor
    goes through the queue; each task the worker handles recorded."""
    handled: list[ReevaluationTask] = []

    class Recorded(Reevaluation):
        def handle(self, task: ReevaluationTask) -> str:
            handled.append(task)
            return super().handle(task)

    def reevaluation(scope: Scope) -> Reevaluation:
        return Recorded(scope, wiring.quality(scope).catalog, wiring.quality(scope), wiring.task_queue(), 4, 0)

    monkeypatch.setattr(wiring, "reevaluation", reevaluation)
    return handled


def test_a_template_change_reevaluates_its_products_page_by_page(api: JsonApi, pages: list[ReevaluationTask]) -> None:
    template_id = apparel(api)
    other = api("POST", T, {"name": "Other", "slug": "other"}, 201)
    ids = [
        api("POST", P, {"title": f"Shirt {i}", "template_id": template_id, "attributes": {"weight": 1}}, 201)["id"]
        for i in range(10)
    ]
    outside = api("POST", P, {"title": "Other", "template_id": other["id"], "attributes": {}}, 201)["id"]
    assert {api("GET", f"{P}/{pid}", expect=200)["completeness"] for pid in ids} == {50}

    groups = [{"name": "Shipping", "attributes": [{"slug": "weight", "required": True}]}]
    api("PUT", f"{T}/{template_id}", {"attribute_groups": groups}, 200)  # material no longer required

    def settled() -> bool:
        return {api("GET", f"{P}/{pid}", expect=200)["completeness"] for pid in ids} == {100}

    wait_until(settled, 60)
    wait_until(
        lambda: all(not api.issues(pid) & {("MISSING_REQUIRED_ATTRIBUTE", "attributes.material")} for pid in ids), 60
    )
    of_template = [t for t in pages if t.template_id is not None]  # (definitions created ran on all products)
    assert {t.template_id for t in of_template} == {template_id} and len({t.run_id for t in of_template}) == 1
    assert sorted(t.page for t in of_template) == [0, 1, 2]  # 10 products, 4 a page
    assert api("GET", f"{P}/{outside}", expect=200)["completeness"] == 100  # another template's: untouched


def test_a_definition_change_flags_what_no_longer_fits_until_fixed(api: JsonApi, pages: list[ReevaluationTask]) -> None:
    weight = api("POST", A, WEIGHT, 201)
    ids = [api("POST", P, {"title": f"Anvil {i}", "attributes": {"weight": 10 * i}}, 201)["id"] for i in range(9)]
    api("PUT", f"{A}/{weight['id']}", {"max": 45}, 200)
    flagged = set(ids[5:])

    def invalid() -> set[str]:
        found = api("GET", f"{B}/validation-issues?code=INVALID_ATTRIBUTE_VALUE&limit=100", expect=200)["items"]
        assert all(i["severity"] == "ERROR" and i["field"] == "attributes.weight" for i in found)
        return {i["product_id"] for i in found}

    wait_until(lambda: invalid() == flagged, 60)
    assert len({t.page for t in pages}) >= 3  # 9 products, 4 a page
    assert api("GET", f"{P}/{ids[8]}", expect=200)["attributes"] == {"weight": 80}  # flagged, not rewritten
    # Fixed by the data for one, by the definition for the rest.
    api("PUT", f"{P}/{ids[5]}", {"attributes": {"weight": 45}}, 200)
    assert invalid() == flagged - {ids[5]}
    api("PUT", f"{A}/{weight['id']}", {"max": None}, 200)
    wait_until(lambda: invalid() == set(), 60)


@pytest.fixture()
def paused_tasks(queue: CapturedQueue[WorkerTask], monkeypatch: pytest.MonkeyPatch) -> CapturedQueue[WorkerTask]:
    """Tasks the API queues stay in a paused queue. For tests that run a re-evaluation themselves:
    the runs that creating definitions and templates queues, delivered to the running worker, could
    judge the products a test writes behind the API's back before the test's own run does."""
    monkeypatch.setattr(wiring, "task_queue", lambda: queue)
    return queue


@pytest.mark.usefixtures("paused_tasks")
def test_a_page_delivered_again_changes_nothing_and_queues_the_same_next_page(api: JsonApi, scope: Scope) -> None:
    template_id = apparel(api)
    # Written behind the API's back: no completeness or score yet, as before a template change.
    ids = write_behind_the_back(scope, [{"title": f"Shirt {i}", "template_id": template_id} for i in range(5)])
    queued: list[tuple[str, dict[str, Any]]] = []

    class Recording:
        def enqueue(self, name: str, body: dict[str, Any]) -> None:
            queued.append((name, body))

    quality = wiring.quality(scope)
    service = Reevaluation(scope, quality.catalog, quality, Recording(), 2, 0)  # type: ignore[arg-type]
    task = ReevaluationTask.first(scope, "6f1e0c52-5d0e-4a57-9b43-3c6f1f0f2a11", template_id)
    assert "2 rewritten" in service.handle(task)
    first = {pid: api("GET", f"{P}/{pid}", expect=200) for pid in sorted(ids)[:2]}
    assert {p["completeness"] for p in first.values()} == {0}
    assert "0 rewritten, 0 issue write(s)" in service.handle(task)  # delivered again
    assert {pid: api("GET", f"{P}/{pid}", expect=200) for pid in first} == first
    assert queued[0] == queued[1] and queued[0][0].endswith("-reevaluate-000001")
    assert ReevaluationTask.model_validate(queued[0][1]).after == sorted(ids)[1]
    # Delivered again with more budget, it goes further, but its successor keeps the one name.
    again = Reevaluation(scope, quality.catalog, quality, Recording(), 2, 1.5, Ticking().timer)  # type: ignore[arg-type]
    assert "4 product(s), 2 rewritten" in again.handle(task)
    assert queued[2][0] == queued[0][0]


class Ticking:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def timer(self) -> float:
        self.now += 1
        return self.now


@pytest.mark.usefixtures("paused_tasks")
def test_a_task_streams_pages_until_its_budget_and_its_successor_finishes_the_run(api: JsonApi, scope: Scope) -> None:
    template_id = apparel(api)
    ids = sorted(write_behind_the_back(scope, [{"title": f"Shirt {i}", "template_id": template_id} for i in range(7)]))
    queued: list[tuple[str, dict[str, Any]]] = []

    class Recording:
        def enqueue(self, name: str, body: dict[str, Any]) -> None:
            queued.append((name, body))

    quality = wiring.quality(scope)
    # Read at the start and after each page, one second apart: 2.5 s is spent after the third page.
    service = Reevaluation(scope, quality.catalog, quality, Recording(), 2, 2.5, Ticking().timer)  # type: ignore[arg-type]
    task = ReevaluationTask.first(scope, "0d3c9b8e-2f4a-4c61-8e7d-5b9a1c2d3e4f", template_id)
    assert service.handle(task).startswith("re-evaluated 6 product(s), 6 rewritten")
    name, successor = queued[0][0], ReevaluationTask.model_validate(queued[0][1])
    assert name.endswith("-reevaluate-000001") and successor.after == ids[5]
    assert [api("GET", f"{P}/{pid}", expect=200).get("completeness") for pid in ids[5:]] == [0, None]

    finishing = Reevaluation(scope, quality.catalog, quality, Recording(), 2, 2.5, Ticking().timer)  # type: ignore[arg-type]
    outcome = finishing.handle(successor)
    assert outcome.startswith("re-evaluated 1 product(s), 1 rewritten") and outcome.endswith("(last page)")
    assert len(queued) == 1  # the run is over: nothing more queued
    assert {api("GET", f"{P}/{pid}", expect=200)["completeness"] for pid in ids} == {0}
    assert all(("MISSING_REQUIRED_ATTRIBUTE", "attributes.material") in api.issues(pid) for pid in ids)


@pytest.mark.usefixtures("paused_tasks")
def test_a_product_edited_while_its_page_is_read_keeps_what_its_own_write_judged(api: JsonApi, scope: Scope) -> None:
    template_id = apparel(api)
    ids = sorted(write_behind_the_back(scope, [{"title": f"Shirt {i}", "template_id": template_id} for i in range(3)]))
    filled = {"weight": 2, "material": "Wool"}

    class EditedWhileRead:
        """The catalog, with the first product streamed edited through the API just after it is read."""

        def __init__(self, store: Any) -> None:
            self.store = store

        def products_from(self, after: str | None, template_id: str | None = None) -> Any:
            for n, (product, version) in enumerate(self.store.products_from(after, template_id)):
                yield product, version
                if n == 0:
                    api("PUT", f"{P}/{product.id}", {"attributes": filled}, 200)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.store, name)

    class Ignored:
        def enqueue(self, name: str, body: dict[str, Any]) -> None: ...

    quality = wiring.quality(scope)
    service = Reevaluation(scope, EditedWhileRead(quality.catalog), quality, Ignored(), 10)  # type: ignore[arg-type]
    assert "3 product(s), 2 rewritten" in service.handle(ReevaluationTask.first(scope, str(uuid.uuid4()), template_id))
    edited = api("GET", f"{P}/{ids[0]}", expect=200)
    assert (edited["attributes"], edited["completeness"]) == (filled, 100)  # not the stale page's 0
    assert not {code for code, _ in api.issues(ids[0])} & {"MISSING_REQUIRED_ATTRIBUTE"}
    assert [api("GET", f"{P}/{pid}", expect=200)["completeness"] for pid in ids[1:]] == [0, 0]


def test_the_sweep_flags_values_a_definition_no_longer_allows(api: JsonApi, scope: Scope) -> None:
    api("POST", A, WEIGHT, 201)
    (pid,) = write_behind_the_back(scope, [{"title": "Written directly", "attributes": {"weight": "heavy"}}])
    assert api.issues(pid) == set()
    sweep_until_done(scope)
    assert ("INVALID_ATTRIBUTE_VALUE", "attributes.weight") in api.issues(pid)


# --- exports -------------------------------------------------------------------------------
def test_exports_carry_template_completeness_and_typed_values_and_leave_out_invalid_ones(
    api: JsonApi, client: Any, auth: dict[str, str], scope: Scope
) -> None:
    template_id = apparel(api)
    api("POST", A, {"name": "Organic", "slug": "organic", "type": "BOOLEAN"}, 201)
    shirt = api("POST", P, {"title": "Shirt", "template_id": template_id, "attributes": {"weight": "0.25"}}, 201)
    (stale,) = write_behind_the_back(scope, [{"title": "Stale", "attributes": {"weight": "heavy"}}])
    sweep_until_done(scope)  # flags the value written behind the API's back
    exports = ExportsApi(client, auth)

    done = exports.wait_notified(exports.start({"format": "CSV"})["id"])
    assert (done["row_count"], done["excluded_count"]) == (1, 1)  # INVALID_ATTRIBUTE_VALUE is an ERROR
    reader = csv.DictReader(io.StringIO(download(done["download_url"]).decode()))
    [row] = list(reader)
    assert list(reader.fieldnames or [])[-6:] == [
        "template_id",
        "template",
        "completeness",
        "attributes.material",
        "attributes.organic",
        "attributes.weight",
    ]
    assert (row["id"], row["template"], row["completeness"]) == (shirt["id"], "apparel", "50")
    assert (row["attributes.weight"], row["attributes.material"]) == ("0.25", "")

    done = exports.wait_notified(exports.start({"format": "NDJSON"})["id"])
    [line] = [json.loads(x) for x in download(done["download_url"]).decode().splitlines()]
    assert (line["template"], line["completeness"], line["attributes"]) == ("apparel", 50, {"weight": 0.25})
    assert stale not in {line["id"]}


def test_a_csv_upload_names_template_and_typed_attribute_columns(
    api: JsonApi, client: Any, auth: dict[str, str]
) -> None:
    template_id = apparel(api)
    rows = [["title", "template_id", "attributes.weight", "attributes.material"]]
    rows += [
        ["Shirt 0", template_id, "0.25", "Cotton"],
        ["Shirt 1", template_id, "heavy", ""],
        ["Shirt 2", template_id, "2", ""],
    ]
    job = UploadsApi(client, auth).run("BULK_IMPORT", "CSV", csv_bytes(rows))
    assert (job["processed_items"], job["failed_items"]) == (2, 1)
    assert [(e["index"], e["line"], e["code"]) for e in job["errors"]] == [(1, 3, "INVALID_ITEM")]
    assert "attributes.weight" in job["errors"][0]["message"]
    products = {p["title"]: p for p in JobsApi(client, auth).products()}
    assert (products["Shirt 0"]["completeness"], products["Shirt 2"]["completeness"]) == (100, 50)


def test_a_template_changed_with_a_group_given_without_attributes_is_judged_as_the_model_fills_it(api: JsonApi) -> None:
    """A PUT's groups may leave out what has a default (a group's `attributes`): the template it
    leaves is judged, not the raw patch (once a 500)."""
    template_id = apparel(api)
    changed = api("PUT", f"{T}/{template_id}", {"attribute_groups": [{"name": "Empty for now"}]}, 200)
    assert (changed["attribute_groups"], changed["attribute_slugs"]) == (
        [{"name": "Empty for now", "attributes": []}],
        [],
    )
    unknown = [{"name": "Care", "attributes": [{"slug": "washing"}]}]
    answer = api("PUT", f"{T}/{template_id}", {"attribute_groups": unknown}, 400)
    assert [d["field"] for d in answer["details"]] == ["attribute_groups[0].attributes[0].slug"]
