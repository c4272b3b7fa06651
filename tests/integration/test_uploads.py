"""Jobs made from uploaded files, through the HTTP API and the signed upload URL, processed for
real: the file is PUT to the storage emulator, planned once, and read by batch."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import JobsApi
from tests.support import concurrently, headers, new_scope, wait_until

B = "/api/v1/pim"


class UploadsApi:
    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth
        self.jobs = JobsApi(client, auth)

    def create(self, fmt: str, filename: str = "items", expect: int = 201) -> dict[str, Any]:
        resp = self.client.post(f"{B}/uploads", json={"filename": filename, "format": fmt}, headers=self.auth)
        assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def get(self, upload_id: str, expect: int = 200) -> dict[str, Any]:
        resp = self.client.get(f"{B}/uploads/{upload_id}", headers=self.auth)
        assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def send(self, fmt: str, data: bytes) -> dict[str, Any]:
        """Create an upload and PUT the bytes to its signed URL, as a client would."""
        upload = self.create(fmt)
        resp = requests.request(
            upload["method"], upload["upload_url"], data=data, headers=upload["headers"], timeout=30
        )
        assert resp.status_code == 200, resp.text[:300]
        return upload

    def job(self, job_type: str, upload_id: str, expect: int = 200) -> dict[str, Any]:
        resp = self.client.post(
            f"{B}/bulk-jobs", json={"job_type": job_type, "upload_id": upload_id}, headers=self.auth
        )
        assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def run(self, job_type: str, fmt: str, data: bytes) -> dict[str, Any]:
        upload = self.send(fmt, data)
        job = self.job(job_type, upload["id"])
        return self.jobs.wait(job["id"])

    def errors_csv(self, job_id: str) -> str:
        resp = self.client.get(f"{B}/bulk-jobs/{job_id}/errors?format=csv", headers=self.auth)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        assert resp.mimetype == "text/csv"
        return resp.get_data(as_text=True)


@pytest.fixture()
def uploads(client: Any, auth: dict[str, str]) -> UploadsApi:
    return UploadsApi(client, auth)


def csv_bytes(rows: list[list[str]], bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def test_an_upload_gives_a_signed_put_url_and_says_when_the_file_arrived(uploads: UploadsApi) -> None:
    upload = uploads.create("CSV", "feed.csv")
    assert upload["method"] == "PUT" and upload["max_bytes"] >= 2 * 1024**3
    assert upload["headers"] == {"Content-Type": "text/csv", "x-goog-content-length-range": f"0,{2 * 1024**3}"}
    assert (upload["arrived"], upload["bytes"], upload["job_id"]) == (False, None, None)
    assert upload["expires_at"] > upload["created_at"]
    assert uploads.get(upload["id"])["arrived"] is False
    data = b"title\r\nLamp\r\n"
    resp = requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=30)
    assert resp.status_code == 200
    seen = uploads.get(upload["id"])
    assert (seen["arrived"], seen["bytes"], seen["filename"]) == (True, len(data), "feed.csv")


def test_a_csv_upload_imports_its_rows_and_reports_bad_ones_by_line(uploads: UploadsApi) -> None:
    rows = [["title", "sku", "description", "attributes.colour", "brand"]]
    rows += [[f"Product {i}", f"SKU-{i:04d}", "", "red" if i % 2 else "", "Acme"] for i in range(300)]
    rows[1][2] = 'A "quoted", multi-line\r\ndescription'  # item 0 spans two lines
    rows[6][0] = ""  # item 5: no title
    data = csv_bytes(rows, bom=True)
    job = uploads.run("BULK_IMPORT", "CSV", data)
    assert job["status"] == "COMPLETED", job
    assert job["payload"] is None
    assert job["source"]["format"] == "CSV" and job["source"]["bytes"] == len(data)
    assert (job["total_items"], job["processed_items"], job["failed_items"]) == (300, 299, 1)
    [error] = job["errors"]
    # The header is line 1, item 0 lines 2-3, so item 5 starts on line 8.
    assert (error["index"], error["line"], error["code"]) == (5, 8, "INVALID_ITEM")
    products = {p["sku"]: p for p in uploads.jobs.products()}
    assert len(products) == 299
    assert products["SKU-0000"]["description"] == 'A "quoted", multi-line\r\ndescription'
    assert products["SKU-0001"]["attributes"] == {"colour": "red"}
    assert products["SKU-0002"]["attributes"] == {} and products["SKU-0002"].get("description") in (None, "")


def test_unknown_columns_fail_the_job_before_any_item_is_written(uploads: UploadsApi) -> None:
    data = csv_bytes([["title", "colour", "prize"], ["Lamp", "red", "1"]])
    job = uploads.run("BULK_IMPORT", "CSV", data)
    assert job["status"] == "FAILED"
    assert '"colour"' in job["failure_reason"] and '"prize"' in job["failure_reason"]
    assert uploads.jobs.products() == []


def test_jsonl_with_a_malformed_line_among_good_ones(uploads: UploadsApi) -> None:
    lines = [json.dumps({"title": f"P{i}", "sku": f"J-{i}"}) for i in range(5)]
    lines[2] = '{"title": "broken'
    lines.insert(4, "")  # a blank line is no item
    job = uploads.run("BULK_IMPORT", "JSONL", ("\n".join(lines) + "\n").encode())
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 4, 1)
    [error] = job["errors"]
    assert (error["index"], error["line"], error["code"]) == (2, 3, "MALFORMED_RECORD")


def test_a_json_array_upload_is_streamed_into_items(uploads: UploadsApi) -> None:
    items: list[Any] = [{"title": f"P{i}", "sku": f"A-{i}"} for i in range(120)]
    items[7] = "not an object"
    job = uploads.run("BULK_IMPORT", "JSON", json.dumps(items, indent=2).encode())
    assert (job["status"], job["processed_items"], job["failed_items"]) == ("COMPLETED", 119, 1)
    assert [(e["index"], e["code"]) for e in job["errors"]] == [(7, "MALFORMED_RECORD")]


def test_deletes_by_csv_id_column(uploads: UploadsApi) -> None:
    made = uploads.jobs.run("BULK_IMPORT", [{"title": f"P{i}"} for i in range(3)])
    assert made["status"] == "COMPLETED"
    ids = sorted(p["id"] for p in uploads.jobs.products())
    data = csv_bytes([["id"], [ids[0]], [ids[2]], [str(uuid.uuid4())]])
    job = uploads.run("BULK_DELETE", "CSV", data)
    assert (job["processed_items"], job["failed_items"]) == (2, 1)
    assert job["errors"][0]["line"] == 4 and job["errors"][0]["code"] == "NOT_FOUND"
    assert [p["id"] for p in uploads.jobs.products()] == [ids[1]]


def test_the_errors_csv_round_trip(uploads: UploadsApi) -> None:
    rows = [["title", "sku", "status"], ["Good", "G-1", "ACTIVE"], ["Bad status", "B-1", "SOLD"], ["", "B-2", ""]]
    job = uploads.run("BULK_IMPORT", "CSV", csv_bytes(rows))
    assert (job["processed_items"], job["failed_items"]) == (1, 2)
    failed = list(csv.reader(io.StringIO(uploads.errors_csv(job["id"]))))
    assert failed[0] == ["title", "sku", "status", "line", "error_code", "error_message"]
    assert [r[:5] for r in failed[1:]] == [
        ["Bad status", "B-1", "SOLD", "3", "INVALID_ITEM"],
        ["", "B-2", "", "4", "INVALID_ITEM"],
    ]
    fixed = [failed[0], ["Bad status", "B-1", "DRAFT", *failed[1][3:]], ["Now titled", "B-2", "", *failed[2][3:]]]
    again = uploads.run("BULK_IMPORT", "CSV", csv_bytes(fixed))
    assert (again["status"], again["processed_items"], again["failed_items"]) == ("COMPLETED", 2, 0)
    assert {p["sku"] for p in uploads.jobs.products()} == {"G-1", "B-1", "B-2"}


def test_payload_and_upload_id_together_or_neither_is_a_400(uploads: UploadsApi) -> None:
    upload = uploads.send("CSV", b"title\nLamp\n")
    for body in (
        {"job_type": "BULK_IMPORT"},
        {"job_type": "BULK_IMPORT", "payload": [{"title": "x"}], "upload_id": upload["id"]},
    ):
        resp = uploads.client.post(f"{B}/bulk-jobs", json=body, headers=uploads.auth)
        assert resp.status_code == 400, body


def test_an_upload_that_has_not_arrived_is_a_409_and_one_is_used_once(uploads: UploadsApi) -> None:
    waiting = uploads.create("CSV")
    uploads.job("BULK_IMPORT", waiting["id"], expect=409)
    arrived = uploads.send("CSV", b"title\nLamp\n")
    job = uploads.job("BULK_IMPORT", arrived["id"])
    uploads.job("BULK_IMPORT", arrived["id"], expect=409)
    assert uploads.get(arrived["id"])["job_id"] == job["id"]


def test_another_tenants_upload_is_not_found(uploads: UploadsApi, client: Any, keys: tuple[Path, Path]) -> None:
    upload = uploads.send("CSV", b"title\nLamp\n")
    other = headers(keys[0], new_scope())
    assert client.get(f"{B}/uploads/{upload['id']}", headers=other).status_code == 404
    resp = client.post(f"{B}/bulk-jobs", json={"job_type": "BULK_IMPORT", "upload_id": upload["id"]}, headers=other)
    assert resp.status_code == 404
    assert uploads.get(upload["id"])["job_id"] is None


def test_a_viewer_may_not_create_an_upload(client: Any, keys: tuple[Path, Path], scope: Any) -> None:
    viewer = headers(keys[0], scope, role="VIEWER")
    resp = client.post(f"{B}/uploads", json={"filename": "f.csv", "format": "CSV"}, headers=viewer)
    assert resp.status_code == 403


def test_a_job_made_from_an_upload_reads_the_file_as_it_was_when_the_job_was_made(uploads: UploadsApi) -> None:
    upload = uploads.send("CSV", b"title\nLamp\n")
    job = uploads.job("BULK_IMPORT", upload["id"])
    wait_until(lambda: uploads.jobs.get(job["id"])["status"] in ("COMPLETED", "FAILED"), 60)
    requests.put(upload["upload_url"], data=b"title\nOther\n", headers=upload["headers"], timeout=30)
    assert [p["title"] for p in uploads.jobs.products()] == ["Lamp"]


def test_an_inline_jobs_errors_csv_names_index_id_and_error(uploads: UploadsApi, client: Any, keys: Any) -> None:
    job = uploads.jobs.run("BULK_DELETE", ["not-an-id", "=evil"])
    rows = list(csv.reader(io.StringIO(uploads.errors_csv(job["id"]))))
    assert rows == [
        ["index", "line", "id", "error_code", "error_message"],
        ["0", "", "not-an-id", "NOT_FOUND", "no such product"],
        ["1", "", "'=evil", "NOT_FOUND", "no such product"],
    ]
    other = headers(keys[0], new_scope())
    assert client.get(f"{B}/bulk-jobs/{job['id']}/errors?format=csv", headers=other).status_code == 404


def test_two_jobs_racing_for_one_upload_make_one_job(uploads: UploadsApi) -> None:
    upload = uploads.send("CSV", b"title\nLamp\n")
    body = {"job_type": "BULK_IMPORT", "upload_id": upload["id"]}
    barrier = threading.Barrier(2)

    def create() -> int:
        barrier.wait()
        return int(uploads.client.post(f"{B}/bulk-jobs", json=body, headers=uploads.auth).status_code)

    assert sorted(concurrently(create, create)) == [200, 409]  # type: ignore[type-var]
    jobs = uploads.client.get(f"{B}/bulk-jobs?type=BULK_IMPORT", headers=uploads.auth).get_json()["items"]
    assert [j["id"] for j in jobs] == [uploads.get(upload["id"])["job_id"]]
