"""The workers' HTTP endpoints as Cloud Tasks calls them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.domain.tenancy import Scope
from shared.settings import get_settings

WORKERS = ["bulk_job_worker", "export_worker"]


@pytest.fixture(params=WORKERS)
def endpoint(request: pytest.FixtureRequest, worker_app: Any, export_worker_app: Any) -> tuple[Any, str, str]:
    """A worker's client, its path, and its task kind that names a record."""
    if request.param == "bulk_job_worker":
        return worker_app.test_client(), "/_tasks/bulk-jobs", "job"
    return export_worker_app.test_client(), "/_tasks/exports", "export"


def missing_record_task(kind: str, scope: Scope) -> dict[str, str]:
    first = {"job": "start", "export": "run"}[kind]
    return {"kind": first, "tenant_id": scope.tenant_id, "org_id": scope.org_id, f"{kind}_id": str(uuid.uuid4())}


def test_a_task_for_a_record_that_does_not_exist_is_acknowledged(endpoint: Any, scope: Scope) -> None:
    client, path, kind = endpoint
    task = missing_record_task(kind, scope)
    resp = client.post(path, json=task)
    assert (resp.status_code, resp.get_json()) == (
        200,
        {"outcome": "abandoned", "reason": f"{kind} {task[f'{kind}_id']} does not exist"},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "explode"},
        {"kind": "start", "tenant_id": "../x", "org_id": "y", "job_id": "z"},
        {"kind": "run", "tenant_id": "../x", "org_id": "y", "export_id": "z"},
        [],
    ],
)
def test_a_malformed_task_is_acknowledged_not_retried_forever(endpoint: Any, body: Any) -> None:
    client, path, _ = endpoint
    resp = client.post(path, json=body)
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "abandoned"


def test_the_workers_require_the_task_token_when_one_is_configured(
    endpoint: Any, scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, path, kind = endpoint
    monkeypatch.setenv("TASK_AUTH_TOKEN", "s3cret-token")
    get_settings.cache_clear()
    try:
        body = missing_record_task(kind, scope)
        assert client.post(path, json=body).status_code == 401
        assert client.post(path, json=body, headers={"X-Synq-Task-Token": "wrong"}).status_code == 401
        assert client.post(path, json=body, headers={"X-Synq-Task-Token": "s3cret-token"}).status_code == 200
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_sweep_function_runs_a_budgeted_pass(app: Any) -> None:
    import functions_framework

    from tests.conftest import ROOT

    sweep = functions_framework.create_app(target="validation_sweep", source=str(ROOT / "main.py")).test_client()
    resp = sweep.post("/", json={"budget_seconds": 0.001})
    assert resp.status_code == 200
    assert resp.get_json()["outcome"]["status"] in ("paused", "completed", "busy", "resting")
    assert sweep.post("/", json={"budget_seconds": -1}).get_json()["outcome"] == "abandoned"
