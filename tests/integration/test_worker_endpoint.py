"""The worker's HTTP endpoint as Cloud Tasks calls it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.settings import get_settings

WORKER = "/_tasks/bulk-jobs"


def test_a_task_for_a_job_that_does_not_exist_is_acknowledged(worker: Any, scope: Any) -> None:
    body = {"kind": "start", "tenant_id": scope.tenant_id, "org_id": scope.org_id, "job_id": str(uuid.uuid4())}
    resp = worker.post(WORKER, json=body)
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "abandoned"


@pytest.mark.parametrize(
    "body", [{"kind": "explode"}, {"kind": "start", "tenant_id": "../x", "org_id": "y", "job_id": "z"}, []]
)
def test_a_malformed_task_is_acknowledged_not_retried_forever(worker: Any, body: Any) -> None:
    resp = worker.post(WORKER, json=body)
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "abandoned"


def test_the_worker_requires_the_task_token_when_one_is_configured(
    worker: Any, scope: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_AUTH_TOKEN", "s3cret-token")
    get_settings.cache_clear()
    try:
        body = {"kind": "start", "tenant_id": scope.tenant_id, "org_id": scope.org_id, "job_id": str(uuid.uuid4())}
        assert worker.post(WORKER, json=body).status_code == 401
        assert worker.post(WORKER, json=body, headers={"X-Synq-Task-Token": "wrong"}).status_code == 401
        assert worker.post(WORKER, json=body, headers={"X-Synq-Task-Token": "s3cret-token"}).status_code == 200
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_sweep_function_runs_a_budgeted_pass(app: Any) -> None:
    import functions_framework

    from tests.conftest import ROOT

    sweep = functions_framework.create_app(target="validation_sweep", source=str(ROOT / "main.py")).test_client()
    resp = sweep.post("/", json={"budget_seconds": 0.001})
    assert resp.status_code == 200
    assert resp.get_json()["outcome"]["status"] in ("paused", "completed", "busy")
    assert sweep.post("/", json={"budget_seconds": -1}).get_json()["outcome"] == "abandoned"
