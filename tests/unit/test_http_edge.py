"""The HTTP edge: errors become JSON in one place; task handlers answer so Cloud Tasks retries
only what is worth retrying."""

from __future__ import annotations

import json
from typing import Any

import flask
import pytest
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from shared.errors import (
    ConflictError,
    FieldProblem,
    InvalidArgumentError,
    NotFoundError,
    PermanentTaskError,
    SynqError,
    UnavailableError,
)
from shared.http import TASK_TOKEN_HEADER, error_response, framework_error, task_handler
from shared.settings import get_settings

app = flask.Flask(__name__)


class Ping(BaseModel):
    n: int


def run_task(
    run: Any, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body if body is not None else {"n": 1}).encode()
    with app.test_request_context(
        "/_tasks", method="POST", data=data, content_type="application/json", headers=headers or {}
    ):
        resp = task_handler(Ping, run)(flask.request)
        return resp.status_code, json.loads(resp.get_data())


def fails_with(exc: Exception) -> Any:
    def run(_: Ping, __: int) -> str:
        raise exc

    return run


def test_a_done_task_is_200_with_its_outcome() -> None:
    assert run_task(lambda p, _: f"did {p.n}") == (200, {"outcome": "did 1"})


@pytest.mark.parametrize(
    ("headers", "attempt"),
    [
        ({}, 1),  # called directly, not by Cloud Tasks
        ({"X-CloudTasks-TaskRetryCount": "0", "X-CloudTasks-TaskExecutionCount": "0"}, 1),
        ({"X-CloudTasks-TaskRetryCount": "4", "X-CloudTasks-TaskExecutionCount": "0"}, 5),  # 503s not executions
        ({"X-CloudTasks-TaskRetryCount": "2", "X-CloudTasks-TaskExecutionCount": "3"}, 4),
        ({"X-CloudTasks-TaskRetryCount": "-1"}, 1),
        ({"X-CloudTasks-TaskRetryCount": "²"}, 1),
        ({"X-CloudTasks-TaskRetryCount": "9" * 5000}, 1),
    ],
)
def test_the_run_is_told_which_delivery_of_its_task_this_is(headers: dict[str, str], attempt: int) -> None:
    assert run_task(lambda p, n: n, headers=headers) == (200, {"outcome": attempt})


@pytest.mark.parametrize("exc", [UnavailableError("firestore down"), ConflictError("changed meanwhile")])
def test_a_transient_failure_is_503_so_cloud_tasks_retries(exc: SynqError) -> None:
    assert run_task(fails_with(exc)) == (503, {"error": exc.message, "code": exc.code})


@pytest.mark.parametrize(
    "call",
    [
        {"run": fails_with(PermanentTaskError("job gone"))},
        {"run": lambda p, _: "never", "raw": b"{broken"},
        {"run": lambda p, _: "never", "body": {"n": "not a number"}},
    ],
    ids=["permanent", "malformed-json", "invalid-body"],
)
def test_a_permanent_failure_is_acknowledged_so_it_is_not_retried_forever(call: dict[str, Any]) -> None:
    status, body = run_task(**call)
    assert status == 200 and body["outcome"] == "abandoned"


def test_a_bug_is_a_500_without_a_traceback() -> None:
    status, body = run_task(fails_with(KeyError("boom")))
    assert status == 500 and body == {"error": "internal error", "code": "INTERNAL"}


def test_errors_render_as_the_contracts_json() -> None:
    with app.app_context():
        resp = error_response(InvalidArgumentError("bad", [FieldProblem("payload[3]", "expected an object")]))
        assert resp.status_code == 400
        assert json.loads(resp.get_data()) == {
            "error": "bad",
            "code": "INVALID_ARGUMENT",
            "details": [{"field": "payload[3]", "problem": "expected an object"}],
        }
        assert json.loads(error_response(NotFoundError("gone")).get_data()) == {"error": "gone", "code": "NOT_FOUND"}


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (NotFound(), 404, {"error": "The requested URL was not found on the server", "code": "NOT_FOUND"}),
        (
            MethodNotAllowed(),
            405,
            {"error": "The method is not allowed for the requested URL", "code": "METHOD_NOT_ALLOWED"},
        ),
        (RequestEntityTooLarge("Too much. Really."), 413, {"error": "Too much", "code": "PAYLOAD_TOO_LARGE"}),
        (
            BadRequest(),
            400,
            {
                "error": "The browser (or proxy) sent a request that this server could not understand",
                "code": "INVALID_ARGUMENT",
            },
        ),
        (HTTPException(), 500, {"error": "Unknown Error", "code": "INVALID_ARGUMENT"}),  # no code, no description
    ],
)
def test_an_error_the_framework_answers_itself_is_the_apis_json(exc: HTTPException, status: int, body: Any) -> None:
    with app.app_context():
        resp = framework_error(exc)
        assert (resp.status_code, resp.mimetype, json.loads(resp.get_data())) == (status, "application/json", body)


def test_every_error_class_maps_to_a_status_and_code() -> None:
    def subclasses(cls: type[SynqError]) -> list[type[SynqError]]:
        return [cls] + [s for c in cls.__subclasses__() for s in subclasses(c)]

    for cls in subclasses(SynqError):
        assert cls.__name__.endswith("Error") and 200 <= cls.status < 600 and cls.code.isupper()


def test_a_task_needs_the_task_token_once_one_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_task(lambda p, attempt: "ran") == (200, {"outcome": "ran"})  # none configured: not checked
    monkeypatch.setenv("TASK_AUTH_TOKEN", "s3cret-token")
    get_settings.cache_clear()
    try:
        refused = (401, {"error": "missing or wrong task token", "code": "UNAUTHENTICATED"})
        assert run_task(lambda p, attempt: "ran") == refused
        assert run_task(lambda p, attempt: "ran", headers={TASK_TOKEN_HEADER: "s3cret-tokeX"}) == refused
        assert run_task(lambda p, attempt: "ran", headers={TASK_TOKEN_HEADER: "s3cret-token"}) == (
            200,
            {"outcome": "ran"},
        )
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_an_abandoned_task_says_why() -> None:
    assert run_task(fails_with(PermanentTaskError("job gone"))) == (200, {"outcome": "abandoned", "reason": "job gone"})
    status, body = run_task(lambda p: "never", body={"n": "x"})
    assert (status, body["outcome"], body["reason"]) == (200, "abandoned", "invalid request body")
