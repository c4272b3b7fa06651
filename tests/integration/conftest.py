"""Integration tier: the real Google clients against the emulators the suite starts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import pytest
from google.cloud import tasks_v2
from pydantic import BaseModel

from local.stack import LOCATION
from shared import wiring
from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.services.tasks import WorkerTask
from tests.conftest import PROJECT
from tests.support import wait_until

T = TypeVar("T", bound=BaseModel)

pytestmark = pytest.mark.emulators


class JobsApi:
    """The bulk-jobs endpoints as a client uses them, through the local gateway app."""

    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def create(self, job_type: str, payload: Any, expect: int = 200) -> dict[str, Any]:
        resp = self.client.post(
            "/api/v1/pim/bulk-jobs", json={"job_type": job_type, "payload": payload}, headers=self.auth
        )
        assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def get(self, job_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/api/v1/pim/bulk-jobs/{job_id}", headers=self.auth)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.get(job_id)
            return job if job["status"] in ("COMPLETED", "FAILED") else None

        return wait_until(finished, timeout)

    def run(self, job_type: str, payload: Any) -> dict[str, Any]:
        return self.wait(self.create(job_type, payload)["id"])

    def products(self) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            resp = self.client.get("/api/v1/pim/products", query_string=query, headers=self.auth)
            assert resp.status_code == 200
            body = resp.get_json()
            items += body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return items


@pytest.fixture()
def jobs(client: Any, auth: dict[str, str]) -> JobsApi:
    return JobsApi(client, auth)


class CapturedQueue(CloudTasksQueue, Generic[T]):
    """A real emulator queue, paused, so the test decides when (and how often) tasks are delivered."""

    def __init__(self, model: type[T]) -> None:
        client = wiring.tasks_client()
        path = client.queue_path(PROJECT, LOCATION, f"captured-{uuid.uuid4().hex[:12]}")
        client.create_queue(parent=client.common_location_path(PROJECT, LOCATION), queue=tasks_v2.Queue(name=path))
        client.pause_queue(name=path)
        super().__init__(client, path, "http://127.0.0.1:9/never-called")
        self.model = model
        self.path = path
        self.taken: set[str] = set()

    def take(self) -> list[T]:
        """Tasks queued since the last take, decoded as the worker would decode them."""
        return [task for _, task in self.take_named()]

    def take_named(self) -> list[tuple[str, T]]:
        """Like `take`, each task with its name (the part after `/tasks/`). Production Cloud Tasks
        refuses a second task of a recent name; the emulator keeps both, so a test that counts
        tasks should count names."""
        tasks = [t for t in wiring.tasks_client().list_tasks(parent=self.path) if t.name not in self.taken]
        self.taken |= {t.name for t in tasks}
        return [
            (t.name.rsplit("/tasks/", 1)[1], self.model.model_validate(json.loads(t.http_request.body))) for t in tasks
        ]

    def delete(self) -> None:
        wiring.tasks_client().delete_queue(name=self.path)


@pytest.fixture()
def queue(stack_env: dict[str, str]) -> Iterator[CapturedQueue[WorkerTask]]:
    captured = CapturedQueue(WorkerTask)
    yield captured
    captured.delete()
