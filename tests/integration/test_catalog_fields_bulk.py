"""Variants' options and cost prices through bulk jobs, uploaded files and exports: an import
item carries its variants, an update item changes variants by id, a CSV upload holds them in a
`variants` column (JSON, as CSV exports write it), and both export formats carry them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from shared.domain.exports import CSV_COLUMNS, TEMPLATE_COLUMNS
from tests.integration.conftest import JobsApi
from tests.integration.test_exports import ExportsApi, download
from tests.integration.test_uploads import UploadsApi, csv_bytes

RED_S = {"sku": "SH-R-S", "price": "19.99", "cost_price": "7.5", "currency": "EUR", "option_values": {"color": "Red"}}


@pytest.fixture()
def uploads(client: Any, auth: dict[str, str]) -> UploadsApi:
    return UploadsApi(client, auth)


@pytest.fixture()
def exports(client: Any, auth: dict[str, str]) -> ExportsApi:
    return ExportsApi(client, auth)


def by_title(jobs: JobsApi) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in jobs.products()}


def test_an_import_creates_variants_with_the_product_and_refuses_bad_ones_per_item(jobs: JobsApi) -> None:
    blue = {"option_values": {"color": "Blue"}, "barcode": "4006381333931"}
    items = [
        {"title": "Shirt", "variants": [RED_S, blue]},
        {"title": "Twins", "variants": [{"option_values": {"color": "Red"}}, {"option_values": {"color": " red"}}]},
        {"title": "Http cost", "variants": [{"cost_price": "cheap", "currency": "EUR"}]},
        {"title": "No currency", "variants": [{"cost_price": 3}]},
        {"title": "Bad key", "variants": [{"option_values": {"Color": "Red"}}]},
        {"title": "Plain"},
    ]
    job = jobs.run("BULK_IMPORT", items)
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 2, 4)
    errors = {e["index"]: e for e in job["errors"]}
    assert sorted(errors) == [1, 2, 3, 4] and {e["code"] for e in errors.values()} == {"INVALID_ITEM"}
    assert "variants[1].option_values" in errors[1]["message"] and "variants[0]" in errors[1]["message"]
    assert "variants.0.cost_price" in errors[2]["message"]
    assert "a price needs its currency" in errors[3]["message"]
    assert "variants.0.option_values.Color" in errors[4]["message"]
    products = by_title(jobs)
    assert sorted(products) == ["Plain", "Shirt"]
    red, blue_made = products["Shirt"]["variants"]
    assert red["option_values"] == {"color": "Red"} and (red["cost_price"], red["price"]) == ("7.5", "19.99")
    assert red["data_quality_score"] == 20 + 20 + 20 + 10 and blue_made["data_quality_score"] == 20 + 20
    assert red["product_id"] == products["Shirt"]["id"] and red["id"] != blue_made["id"]
    assert products["Plain"]["variants"] == []


def test_an_update_changes_variants_by_id_and_refuses_bad_ones_per_item(jobs: JobsApi) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Shirt", "variants": [RED_S, {"option_values": {"color": "Blue"}}]}])
    shirt = by_title(jobs)["Shirt"]
    red, blue = shirt["variants"]
    items = [
        {"id": shirt["id"], "variants": [{"id": red["id"], "cost_price": "8"}]},
        {"id": shirt["id"], "variants": [{"id": blue["id"], "option_values": {"color": "RED"}}]},  # red's options
        {"id": shirt["id"], "variants": [{"id": "no-such-variant", "sku": "X"}]},
        {"id": shirt["id"], "variants": [{"id": blue["id"], "cost_price": -1}]},
        {"id": shirt["id"], "variants": [{"sku": "no id"}]},
        {"id": shirt["id"], "description": "Soft", "variants": [{"id": blue["id"], "option_values": {"size": "S"}}]},
    ]
    job = jobs.run("BULK_UPDATE", items)
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 2, 4)
    errors = {e["index"]: e["message"] for e in job["errors"]}
    assert sorted(errors) == [1, 2, 3, 4]
    assert "variants[0].option_values" in errors[1] and red["id"] in errors[1] and blue["id"] in errors[1]
    assert "variants[0].id: no such variant" in errors[2]
    assert "variants.0.cost_price" in errors[3] and "variants.0.id" in errors[4]
    after = by_title(jobs)["Shirt"]
    assert after["description"] == "Soft"
    red_after, blue_after = after["variants"]
    assert (red_after["id"], red_after["cost_price"], red_after["option_values"]) == (red["id"], "8", {"color": "Red"})
    assert (blue_after["id"], blue_after["option_values"]) == (blue["id"], {"size": "S"})
    assert blue_after["created_at"] == blue["created_at"] and blue_after["updated_at"] > blue["updated_at"]
    # The product's update event records its variants before and after.
    resp = jobs.client.get(f"/api/v1/pim/audit-logs?resource_id={shirt['id']}", headers=jobs.auth)
    update = resp.get_json()["items"][0]
    assert update["action"] == "product.updated"
    assert [v["cost_price"] for v in update["changes"]["variants"]["after"]] == ["8", None]


def test_a_csv_upload_carries_variants_as_json_in_their_column(uploads: UploadsApi) -> None:
    variants = json.dumps([RED_S, {"option_values": {"color": "Blue"}, "cost_price": 2, "currency": "USD"}])
    rows = [
        ["title", "sku", "attributes.material", "variants"],
        ["Shirt", "SH", "cotton", variants],
        ["Broken", "BR", "", "[{"],
        ["Twins", "TW", "", json.dumps([{"option_values": {"size": "S"}}, {"option_values": {"size": "s"}}])],
        ["Plain", "PL", "", ""],
    ]
    job = uploads.run("BULK_IMPORT", "CSV", csv_bytes(rows))
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 2, 2), job
    errors = {e["line"]: e for e in job["errors"]}
    assert errors[3]["code"] == "MALFORMED_RECORD" and "`variants` cell is not valid JSON" in errors[3]["message"]
    assert errors[4]["code"] == "INVALID_ITEM" and "option_values" in errors[4]["message"]
    products = {p["sku"]: p for p in uploads.jobs.products()}
    shirt = products["SH"]
    assert shirt["attributes"] == {"material": "cotton"}
    assert [(v["option_values"], v["cost_price"], v["currency"]) for v in shirt["variants"]] == [
        ({"color": "Red"}, "7.5", "EUR"),
        ({"color": "Blue"}, "2", "USD"),
    ]
    assert products["PL"]["variants"] == []
    # An update file changes a variant by id in the same column.
    update = [["id", "variants"], [shirt["id"], json.dumps([{"id": shirt["variants"][1]["id"], "cost_price": "2.25"}])]]
    done = uploads.run("BULK_UPDATE", "CSV", csv_bytes(update))
    assert (done["processed_items"], done["failed_items"]) == (1, 0), done
    changed = {p["sku"]: p for p in uploads.jobs.products()}["SH"]
    assert [v["cost_price"] for v in changed["variants"]] == ["7.5", "2.25"]


def test_a_jsonl_upload_carries_variants(uploads: UploadsApi) -> None:
    lines = [json.dumps({"title": "Shirt", "variants": [RED_S]}), json.dumps({"title": "Bad", "variants": {}})]
    job = uploads.run("BULK_IMPORT", "JSONL", ("\n".join(lines) + "\n").encode())
    assert (job["processed_items"], job["failed_items"]) == (1, 1)
    [shirt] = uploads.jobs.products()
    assert shirt["variants"][0]["option_values"] == {"color": "Red"}


@pytest.mark.parametrize("fmt", ["NDJSON", "CSV"])
def test_exports_carry_options_cost_prices_and_variant_scores(exports: ExportsApi, jobs: JobsApi, fmt: str) -> None:
    jobs.run("BULK_IMPORT", [{"title": "Shirt", "variants": [RED_S]}])
    done = exports.wait_notified(exports.start({"format": fmt})["id"])
    assert (done["status"], done["row_count"]) == ("COMPLETED", 1)
    body = download(done["download_url"]).decode()
    if fmt == "NDJSON":
        [row] = [json.loads(line) for line in body.splitlines()]
        variants = row["variants"]
    else:
        reader = csv.DictReader(io.StringIO(body))
        [row] = list(reader)
        assert reader.fieldnames == [*CSV_COLUMNS, *TEMPLATE_COLUMNS]  # no attribute definitions here
        variants = json.loads(row["variants"])
    [variant] = variants
    assert (variant["option_values"], variant["cost_price"], variant["data_quality_score"]) == (
        {"color": "Red"},
        "7.5",
        70,
    )
