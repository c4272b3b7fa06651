"""The API client's transport, against a loopback server that answers what each test scripts:
what is retried (and with which idempotency key), what is not, how errors read, how pages are
followed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.emulators import free_port
from synq import client as client_module
from synq.client import Config, SynqClient, SynqError

JOB = {"id": "j1", "job_type": "BULK_IMPORT", "status": "PENDING", "total_items": None}


@dataclass
class Script:
    """Answers in order (the last one repeats); every request seen."""

    answers: list[tuple[int, Any]] = field(default_factory=list)
    seen: list[Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.bodies.append(request.get_data())
        self.seen.append(request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(body):
            body = body(request)
        return Response(json.dumps(body), status=status, content_type="application/json")(environ, start_response)


@pytest.fixture()
def server() -> Iterator[tuple[Script, SynqClient]]:
    script = Script()
    port = free_port()
    httpd = make_server("127.0.0.1", port, script, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    config = Config(url=f"http://127.0.0.1:{port}/", token="t0k", tenant_id="ten", org_id="org")
    try:
        yield script, SynqClient(config, timeout=5)
    finally:
        httpd.shutdown()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_backoff", lambda attempt, retry_after: 0)


def test_a_creation_is_retried_with_one_idempotency_key_until_it_answers(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(503, {"error": "busy", "code": "UNAVAILABLE"}), (502, "bad gateway"), (200, JOB)]
    job = api.create_job("BULK_IMPORT", payload=[{"title": "x"}])
    assert job.id == "j1" and job.total_items is None
    keys = {r.headers["Idempotency-Key"] for r in script.seen}
    assert len(script.seen) == 3 and len(keys) == 1
    assert json.loads(script.bodies[0]) == {"job_type": "BULK_IMPORT", "payload": [{"title": "x"}]}
    assert [r.headers["Authorization"] for r in script.seen] == ["Bearer t0k"] * 3
    assert (script.seen[0].headers["X-Tenant-ID"], script.seen[0].headers["X-Org-ID"]) == ("ten", "org")


def test_the_key_given_is_the_key_sent(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(200, JOB)]
    api.create_job("BULK_DELETE", upload_id="u1", dry_run=True, idempotency_key="my-key")
    assert script.seen[0].headers["Idempotency-Key"] == "my-key"
    assert json.loads(script.bodies[0]) == {"job_type": "BULK_DELETE", "upload_id": "u1", "dry_run": True}


def test_a_call_without_a_key_is_not_repeated(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(503, {"error": "busy", "code": "UNAVAILABLE"}), (200, JOB)]
    with pytest.raises(SynqError) as failed:
        api.cancel_job("j1")
    assert len(script.seen) == 1
    assert (failed.value.status, failed.value.code, str(failed.value)) == (
        503,
        "UNAVAILABLE",
        "busy (HTTP 503 UNAVAILABLE)",
    )


def test_retries_give_up_after_the_last_attempt(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(503, {"error": "busy", "code": "UNAVAILABLE"})]
    with pytest.raises(SynqError, match=r"^busy \(HTTP 503 UNAVAILABLE\)$"):
        api.get_job("j1")
    assert len(script.seen) == client_module.ATTEMPTS


def test_an_error_answer_reads_as_one_line_with_its_details(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    details = [{"field": "format", "problem": "Input should be 'NDJSON' or 'CSV'"}]
    script.answers = [(400, {"error": "invalid request body", "code": "INVALID_ARGUMENT", "details": details})]
    with pytest.raises(SynqError) as failed:
        api.create_export("XLSX")
    assert len(script.seen) == 1  # a 400 is not worth repeating
    assert str(failed.value) == (
        "invalid request body: format: Input should be 'NDJSON' or 'CSV' (HTTP 400 INVALID_ARGUMENT)"
    )


def test_an_answer_that_is_not_the_api_error_shape_still_reads(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(404, ["not", "an", "error"])]
    with pytest.raises(SynqError) as failed:
        api.get_job("j1")
    assert (failed.value.code, failed.value.status) == ("HTTP_ERROR", 404)


def test_an_answer_that_is_not_a_job_is_an_error_not_a_crash(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(200, {"id": "j1"})]
    with pytest.raises(SynqError, match=r"^unexpected answer from the API"):
        api.get_job("j1")


def test_nobody_listening_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    api = SynqClient(Config(url=f"http://127.0.0.1:{free_port()}", token="t", tenant_id="t", org_id="o"), timeout=2)
    with pytest.raises(SynqError, match=r"^no answer from http://127\.0\.0\.1:\d+: ConnectionError$"):
        api.get_job("j1")


def page_of(request: Request) -> dict[str, Any]:
    """Pages of 3 items numbered from the cursor, 7 items in all."""
    start = int(request.args.get("cursor", "0"))
    limit = int(request.args["limit"])
    items = [{"n": n} for n in range(start, min(start + min(limit, 3), 7))]
    end = start + len(items)
    return {"items": items, "next_cursor": str(end) if end < 7 else None}


def test_a_listing_follows_cursors_and_stops_at_the_limit(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    script.answers = [(200, page_of)]
    assert [p["n"] for p in api.list_products(limit=5)] == [0, 1, 2, 3, 4]
    assert [r.args.get("cursor") for r in script.seen] == [None, "3"]
    assert [r.args["limit"] for r in script.seen] == ["5", "2"]  # never more than is still wanted
    script.seen.clear()
    assert [p["n"] for p in api.list_products(limit=100)] == list(range(7))
    assert len(script.seen) == 3


def test_jobs_of_every_type_are_merged_newest_first(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    by_type = {
        "BULK_IMPORT": ["2026-11-30T10:00:00Z", "2026-11-29T10:00:00Z"],
        "BULK_UPDATE": ["2026-11-30T11:00:00Z"],
        "BULK_DELETE": ["2026-11-29T12:00:00Z"],
    }

    def jobs(request: Request) -> dict[str, Any]:
        kind = request.args["job_type"]
        return {"items": [{"job_type": kind, "created_at": t} for t in by_type[kind]], "next_cursor": None}

    script.answers = [(200, jobs)]
    listed = [(j["job_type"], j["created_at"][:13]) for j in api.list_jobs(limit=3)]
    assert listed == [
        ("BULK_UPDATE", "2026-11-30T11"),
        ("BULK_IMPORT", "2026-11-30T10"),
        ("BULK_DELETE", "2026-11-29T12"),
    ]


def test_configuration_names_what_is_missing_and_flags_win() -> None:
    with pytest.raises(SynqError, match=r"^missing configuration: set SYNQ_TOKEN, SYNQ_ORG_ID \(or pass the flags\)$"):
        Config.from_env({"SYNQ_URL": "http://x", "SYNQ_TENANT_ID": "t"})
    environ = {"SYNQ_URL": "http://env", "SYNQ_TOKEN": "a", "SYNQ_TENANT_ID": "t", "SYNQ_ORG_ID": "o"}
    assert Config.from_env(environ, url="http://flag", token=None) == Config("http://flag", "a", "t", "o")


def test_waiting_reads_the_page_of_its_type_not_the_job_with_its_payload(server: tuple[Script, SynqClient]) -> None:
    script, api = server
    readings = iter(["PENDING", "PROCESSING", "COMPLETED"])

    def answer(request: Request) -> Any:
        if request.path.endswith("/bulk-jobs/j1"):  # the job itself, payload and all
            return {**JOB, "status": "PENDING", "payload": "x" * 1000}
        status = next(readings)
        other = {**JOB, "id": "j0", "status": "COMPLETED"}
        return {"items": [other, {**JOB, "status": status}] if status != "PROCESSING" else [other], "next_cursor": None}

    script.answers = [(200, answer)]
    seen: list[str] = []
    job = api.wait_for_job("j1", lambda j: seen.append(j.status), interval=0)
    assert job.status == "COMPLETED" and seen == ["PENDING", "PENDING", "PENDING", "COMPLETED"]
    # Read by id at first, and once more when the job was not on its type's newest page.
    assert [r.path.rsplit("/", 1)[-1] for r in script.seen] == ["j1", "bulk-jobs", "bulk-jobs", "j1", "bulk-jobs"]
    assert {r.args.get("job_type") for r in script.seen if r.path.endswith("bulk-jobs")} == {"BULK_IMPORT"}
