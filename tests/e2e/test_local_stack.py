"""End to end through HTTP against the local stack `make run` starts: its own emulators, the
gateway under functions-framework (gunicorn), and Cloud Tasks delivering to the worker."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from local.emulators import free_port
from local.stack import LocalStack
from local.webhook_receiver import WebhookReceiver
from tests.conftest import ENVIRONMENT_AT_START
from tests.support import new_scope, wait_until

pytestmark = pytest.mark.emulators


@pytest.fixture(scope="module", autouse=True)
def environment_at_start() -> Iterator[None]:
    """The stacks here start as `make run` starts them: from the environment the session began
    with, not the one the integration tier's fixtures point at their own emulators."""
    with mock.patch.dict(os.environ, ENVIRONMENT_AT_START, clear=True):
        yield


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, environment_at_start: None) -> Iterator[LocalStack]:
    running = LocalStack(free_port(), state_dir=tmp_path_factory.mktemp("stack"), quiet=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture()
def session(stack: LocalStack) -> requests.Session:
    """An ADMIN of a tenant of the test's own: no test sees data another left."""
    scope = new_scope()
    s = requests.Session()
    token = stack.token(tenant_id=scope.tenant_id, org_id=scope.org_id)
    s.headers.update({"Authorization": f"Bearer {token}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id})
    return s


def run_import(stack: LocalStack, session: requests.Session, payload: list[dict[str, Any]]) -> dict[str, Any]:
    """POST a BULK_IMPORT and poll the list until the job is finished; the finished job."""
    resp = session.post(
        f"{stack.url}/api/v1/pim/bulk-jobs", json={"job_type": "BULK_IMPORT", "payload": payload}, timeout=30
    )
    assert resp.status_code == 200 and resp.json()["status"] == "PENDING"
    job_id = resp.json()["id"]

    def done() -> dict[str, Any] | None:
        jobs = session.get(f"{stack.url}/api/v1/pim/bulk-jobs", params={"type": "BULK_IMPORT"}, timeout=10).json()
        job = next(j for j in jobs["items"] if j["id"] == job_id)
        return job if job["status"] in ("COMPLETED", "FAILED") else None

    job: dict[str, Any] = wait_until(done, timeout=120, interval=0.25)
    return job


def test_the_stack_reports_healthy_and_serves_its_openapi(stack: LocalStack) -> None:
    assert requests.get(f"{stack.url}/healthz", timeout=5).json()["status"] == "ok"
    spec = requests.get(f"{stack.url}/api/v1/pim/openapi.json", timeout=5).json()
    assert "/api/v1/pim/bulk-jobs" in spec["paths"]


def test_an_import_submitted_over_http_completes_with_exact_counts(
    stack: LocalStack, session: requests.Session
) -> None:
    payload = [{"title": f"E2E {i}", "sku": f"E2E-{i}", "description": "d"} for i in range(2500)]
    payload[42] = {"sku": "missing title"}
    job = run_import(stack, session, payload)
    job_id = job["id"]
    assert (job["status"], job["total_items"], job["processed_items"], job["failed_items"]) == (
        "COMPLETED",
        2500,
        2499,
        1,
    )
    assert job["errors"][0]["index"] == 42

    created, cursor = 0, None
    while True:
        params = {"action": "product.created", **({"cursor": cursor} if cursor else {})}
        page = session.get(f"{stack.url}/api/v1/pim/audit-logs", params=params, timeout=10).json()
        created += sum(1 for e in page["items"] if e["job_id"] == job_id)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert created == 2499  # exactly one event per product the job created

    # The worker process logged the job as production would: JSON lines, labelled with the job.
    def job_lines() -> list[dict[str, Any]] | None:
        lines = (stack.state_dir / "logs" / "worker.log").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        mine = [e for e in entries if e.get("logging.googleapis.com/labels", {}).get("job_id") == job_id]
        return mine or None

    lines = wait_until(job_lines, timeout=10)
    assert all(e["severity"] in ("INFO", "WARNING") and e["message"] for e in lines)  # WARNING: a batch retried
    assert all(e["logging.googleapis.com/labels"]["tenant_id"] == session.headers["X-Tenant-ID"] for e in lines)


def test_an_export_is_announced_by_email_and_signed_webhook_and_downloads(
    stack: LocalStack, session: requests.Session
) -> None:
    """A catalog imported over HTTP (600 products, 1 refused), exported twice over HTTP."""
    base = f"{stack.url}/api/v1/pim"
    payload = [{"title": f"Export {i}", "sku": f"EX-{i}", "description": "d"} for i in range(600)]
    payload[7] = {"sku": "missing title"}
    assert run_import(stack, session, payload)["processed_items"] == 599

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
    assert event["id"] == by_hook["notification"]["event_id"] and event["type"] == "export.completed"
    lines = requests.get(event["export"]["download_url"], timeout=30).text.splitlines()
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
