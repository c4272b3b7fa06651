"""The functions' log lines, as Cloud Logging reads them: one JSON object per line with severity,
message, the request's trace and labels that follow one job or export from the API through its
tasks and notifications; never a token, secret or payload."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.webhook_receiver import WebhookReceiver
from shared.logs import LABELS_FIELD, TRACE_FIELD, JsonFormatter
from tests.conftest import PROJECT
from tests.integration.conftest import JobsApi
from tests.integration.test_exports import ExportsApi
from tests.support import wait_until

WEBHOOK_SECRET = "whsec-" + uuid.uuid4().hex


class Lines(logging.Handler):
    """Every record of the process, formatted as production formats it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture()
def captured() -> Iterator[Lines]:
    root = logging.getLogger()
    handler, level = Lines(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def labelled(entries: list[dict[str, Any]], **labels: str) -> list[dict[str, Any]]:
    return [e for e in entries if labels.items() <= e.get(LABELS_FIELD, {}).items()]


def test_a_job_is_followed_by_its_labels_and_trace_from_the_api_through_its_tasks(
    client: Any, auth: dict[str, str], captured: Lines, scope: Any
) -> None:
    trace_id, request_id = uuid.uuid4().hex, "req-" + uuid.uuid4().hex[:12]
    traced = {**auth, "traceparent": f"00-{trace_id}-{'a1' * 8}-01", "X-Request-ID": request_id}
    resp = client.post(
        "/api/v1/pim/bulk-jobs", json={"job_type": "BULK_IMPORT", "payload": [{"title": "x"}]}, headers=traced
    )
    assert resp.status_code == 200
    job_id = resp.get_json()["id"]
    JobsApi(client, auth).wait(job_id)

    # The worker's lines are written when it answers, a moment after the job reads finished.
    def worker_lines() -> list[dict[str, Any]] | None:
        found = [e for e in labelled(captured.entries(), job_id=job_id) if e["message"].startswith("task ")]
        return found if len(found) >= 2 else None  # the start task and the batch

    tasks = wait_until(worker_lines, 30)
    api = [e for e in labelled(captured.entries(), job_id=job_id) if e["message"].startswith("POST ")]
    assert len(api) == 1
    for entry in [*api, *tasks]:
        assert entry["severity"] == "INFO"
        assert entry[TRACE_FIELD] == f"projects/{PROJECT}/traces/{trace_id}"
        assert entry[LABELS_FIELD] == {
            "request_id": request_id,
            "tenant_id": scope.tenant_id,
            "org_id": scope.org_id,
            "job_id": job_id,
        }


def test_no_token_secret_or_payload_reaches_a_log_line(
    client: Any, auth: dict[str, str], captured: Lines, scope: Any
) -> None:
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    try:
        exports = ExportsApi(client, auth)
        exports.configure(channel="webhook", webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)
        marker = "payload-" + uuid.uuid4().hex
        items = [
            {"title": f"{marker}-{i}", "sku": f"{marker}-sku-{i}", "attributes": {"note": marker}} for i in range(5)
        ]
        items.append({"sku": f"{marker}-no-title"})  # an item refused: its failure is recorded, not logged
        jobs = JobsApi(client, auth)
        job = jobs.run("BULK_IMPORT", items)
        assert (job["processed_items"], job["failed_items"]) == (5, 1)
        jobs.run("BULK_UPDATE", json.dumps([{"id": "not-an-id", "title": marker}]))
        export = exports.wait_notified(exports.start({"format": "CSV"})["id"])
        assert export["notification"]["status"] == "DELIVERED"
        # A refused token and a bad request are logged too, without what they carried.
        bad = {**auth, "Authorization": auth["Authorization"] + "x"}
        assert client.get("/api/v1/pim/products", headers=bad).status_code == 401
        assert client.post("/api/v1/pim/bulk-jobs", data=marker, headers=auth).status_code in (400, 415)
    finally:
        receiver.stop()

    entries = captured.entries()
    assert labelled(entries, tenant_id=scope.tenant_id, export_id=export["id"])  # the export's lines were captured
    token = auth["Authorization"].removeprefix("Bearer ")
    secrets = {
        "bearer token": token,
        "token signature": token.rsplit(".", 1)[-1],
        "webhook secret": WEBHOOK_SECRET,
        "payload": marker,
        "download URL signature": export["download_url"].partition("?")[2],
    }
    for line in captured.lines:
        for what, secret in secrets.items():
            assert secret not in line, f"{what} logged: {line[:300]}"
