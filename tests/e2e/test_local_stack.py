"""End to end through HTTP against the local stack `make run` starts: its own emulators, the
gateway under functions-framework (gunicorn), and Cloud Tasks delivering to the worker."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulators import free_port
from local.stack import LocalStack
from local.webhook_receiver import WebhookReceiver
from synq.client import Job, SynqClient
from tests.support import wait_until

pytestmark = pytest.mark.emulators


def run_import(api: SynqClient, payload: list[dict[str, Any]]) -> Job:
    """A BULK_IMPORT through the API client, followed until it ends; the finished job."""
    job = api.create_job("BULK_IMPORT", payload=payload)
    assert job.status == "PENDING"
    return api.wait_for_job(job.id, interval=0.25)


def test_the_stack_reports_healthy_and_serves_its_openapi(stack: LocalStack) -> None:
    assert requests.get(f"{stack.url}/healthz", timeout=5).json()["status"] == "ok"
    spec = requests.get(f"{stack.url}/api/v1/pim/openapi.json", timeout=5).json()
    assert "/api/v1/pim/bulk-jobs" in spec["paths"]


def test_an_import_submitted_over_http_completes_with_exact_counts(stack: LocalStack, api: SynqClient) -> None:
    payload = [{"title": f"E2E {i}", "sku": f"E2E-{i}", "description": "d"} for i in range(2500)]
    payload[42] = {"sku": "missing title"}
    job = run_import(api, payload)
    assert (job.status, job.total_items, job.processed_items, job.failed_items) == ("COMPLETED", 2500, 2499, 1)
    assert [e["index"] for e in api.job_errors(job.id)] == [42]

    events = api.list_audit_events(action="product.created", limit=10_000)
    assert sum(1 for e in events if e["job_id"] == job.id) == 2499  # exactly one event per product created

    # The worker process logged the job as production would: JSON lines, labelled with the job.
    def job_lines() -> list[dict[str, Any]] | None:
        lines = (stack.state_dir / "logs" / "worker.log").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        mine = [e for e in entries if e.get("logging.googleapis.com/labels", {}).get("job_id") == job.id]
        return mine or None

    lines = wait_until(job_lines, timeout=10)
    assert all(e["severity"] in ("INFO", "WARNING") and e["message"] for e in lines)  # WARNING: a batch retried
    assert all(e["logging.googleapis.com/labels"]["tenant_id"] == api.http.headers["X-Tenant-ID"] for e in lines)


def test_an_export_is_announced_by_email_and_signed_webhook_and_downloads(
    stack: LocalStack, api: SynqClient, session: requests.Session
) -> None:
    """A catalog imported over HTTP (600 products, 1 refused), exported twice over HTTP."""
    base = f"{stack.url}/api/v1/pim"
    payload = [{"title": f"Export {i}", "sku": f"EX-{i}", "description": "d"} for i in range(600)]
    payload[7] = {"sku": "missing title"}
    assert run_import(api, payload).processed_items == 599

    def export(body: dict[str, str]) -> dict[str, Any]:
        resp = session.post(f"{base}/exports", json=body, timeout=10)
        assert resp.status_code == 202, resp.text
        export_id = resp.json()["id"]

        def notified() -> dict[str, Any] | None:
            record = session.get(f"{base}/exports/{export_id}", timeout=10).json()
            note = record["notification"]
            return record if note and note["status"] != "PENDING" else None

        return wait_until(notified, timeout=120, interval=0.25)

    assert stack.mail is not None  # the stack's own mail server (no SMTP_HOST in the test's env)
    settings = {"channel": "email", "emails": ["merchandiser@example.com"]}
    assert session.put(f"{base}/settings/notifications", json=settings, timeout=10).status_code == 200
    by_mail = export({"format": "CSV"})
    assert (by_mail["status"], by_mail["row_count"], by_mail["notification"]["status"]) == (
        "COMPLETED",
        599,
        "DELIVERED",
    )
    [message] = [
        m for m in stack.mail.messages() if m["Message-ID"].startswith(f"<{by_mail['notification']['event_id']}")
    ]
    assert "merchandiser@example.com" in message["To"] and "599 products" in message["Subject"]
    csv_text = requests.get(by_mail["download_url"], timeout=30).text
    assert len(csv_text.splitlines()) == 599 + 1  # the header, then one line per product

    receiver = WebhookReceiver("e2e-secret-0123456789").start()
    try:
        settings = {"channel": "webhook", "webhook_url": receiver.url, "webhook_secret": "e2e-secret-0123456789"}
        assert session.put(f"{base}/settings/notifications", json=settings, timeout=10).status_code == 200
        by_hook = export({})
    finally:
        receiver.stop()
    [event] = receiver.events  # verified against its X-Synq-Signature
    assert event["event_id"] == by_hook["notification"]["event_id"] and event["event_type"] == "export.completed"
    lines = requests.get(event["payload"]["download_url"], timeout=30).text.splitlines()
    assert len(lines) == by_hook["row_count"] == 599


def test_bad_input_over_real_http_gets_json_4xx(stack: LocalStack, session: requests.Session) -> None:
    url = f"{stack.url}/api/v1/pim/bulk-jobs"
    big = b'{"job_type": "BULK_IMPORT", "payload": "' + b"x" * 10_000_100 + b'"}'
    too_big = session.post(url, data=big, headers={"Content-Type": "application/json"}, timeout=30)
    assert too_big.status_code == 413 and too_big.json()["code"] == "PAYLOAD_TOO_LARGE"
    bad = session.post(url, data=b"[", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_JSON"
    anon = requests.get(url, timeout=10)
    assert anon.status_code == 401 and anon.json()["code"] == "UNAUTHENTICATED"


def test_stopping_the_stack_leaves_no_process_behind(tmp_path: Path) -> None:
    stack = LocalStack(free_port(), state_dir=tmp_path, quiet=True)
    try:
        stack.start()
        pids = [p.pid for p in [e.proc for e in stack.emulators] + list(stack.functions.values()) if p]
        assert len(pids) == 6  # 3 emulators, 2 workers, the gateway
        assert stack.mail is not None
        mail_port = stack.mail.port
    finally:
        stack.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the whole process group, java children included, is gone
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", mail_port), timeout=1)  # the mail server stopped too


def test_a_stack_that_fails_to_start_stops_what_it_started(tmp_path: Path) -> None:
    stack = LocalStack(free_port(), state_dir=tmp_path, quiet=True)
    stack.storage.command = lambda: ["false"]  # type: ignore[method-assign]  # the storage emulator cannot start
    with pytest.raises(RuntimeError):
        stack.start()
    assert stack.firestore.proc is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(stack.firestore.proc.pid, 0)  # the Firestore emulator (java) was stopped again


def test_a_chunked_body_over_the_limit_is_a_json_413_from_the_server(
    stack: LocalStack, session: requests.Session
) -> None:
    # No Content-Length: the server only learns the size by reading, and must still answer JSON.
    def body() -> Iterator[bytes]:
        yield b'{"job_type": "BULK_IMPORT", "payload": "'
        for _ in range(11):
            yield b"x" * 1_000_000

    # Not through the shared session: the server drops a connection whose body it left unread.
    resp = requests.post(
        f"{stack.url}/api/v1/pim/bulk-jobs",
        data=body(),
        headers={**session.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 413 and resp.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_ids_firestore_reserves_are_404_from_the_server(stack: LocalStack, session: requests.Session) -> None:
    for path in ("/api/v1/pim/products/__x__", "/api/v1/pim/categories/a.b", "/api/v1/pim/exports/__name__"):
        resp = session.get(f"{stack.url}{path}", timeout=5)
        assert resp.status_code == 404 and resp.json()["code"] == "NOT_FOUND", path
