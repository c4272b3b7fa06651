"""Integration tier: the real Google clients against the emulators the suite starts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from google.cloud import tasks_v2
from pydantic import BaseModel

from local.stack import LOCATION
from shared import wiring
from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.domain.tenancy import Scope
from shared.services.tasks import WorkerTask
from tests.conftest import PROJECT
from tests.support import headers, wait_until

T = TypeVar("T", bound=BaseModel)
B = "/api/v1/pim"
# Every collection the API lists, under /api/v1/pim.
LISTED = [
    "products",
    "brands",
    "categories",
    "attributes",
    "product-templates",
    "exports",
    "audit-logs",
    "validation-issues",
]
SETTINGS = {"channel": "email", "emails": ["owner@example.com"]}

pytestmark = pytest.mark.emulators


@pytest.fixture(autouse=True)
def _on_the_emulators(stack_env: dict[str, str]) -> None:
    """Every integration test runs with the clients pointed at the suite's emulators, whatever
    fixtures it asks for: a test that reached `wiring` before any other had set them up would
    otherwise build clients for Google Cloud itself (and fail alone, or pass after another)."""


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


class World:
    """A tenant's resources, made by its ADMIN: a brand, a category, a product with a variant, a
    finished bulk job, a finished export (nobody to tell yet) and notification settings."""

    def __init__(self, client: Any, keys: tuple[Path, Path], scope: Scope) -> None:
        self.client, self.keys, self.scope = client, keys, scope
        self.admin = headers(keys[0], scope, role="ADMIN", email="admin@example.com")
        jobs = JobsApi(client, self.admin)
        self.ids = {
            "job_id": jobs.run("BULK_IMPORT", [{"title": "From a job"}, {"sku": "no title"}])["id"],
            "brand": self.made("POST", f"{B}/brands", {"name": "Acme"}),
            "category": self.made("POST", f"{B}/categories", {"name": "Tools"}),
            "product_id": self.made("POST", f"{B}/products", {"title": "Desk Lamp", "sku": "DL-1"}),
            "attribute_id": self.made(
                "POST", f"{B}/attributes", {"name": "Weight", "slug": "weight", "type": "NUMBER"}
            ),
            "product_template_id": self.made("POST", f"{B}/product-templates", {"name": "Apparel", "slug": "apparel"}),
        }
        self.ids["variant_id"] = self.made("POST", self.path(f"{B}/products/<product_id>/variants"), {"sku": "DL-1-S"})
        self.ids["export_id"] = self.made("POST", f"{B}/exports", {"format": "NDJSON"})
        self.ids["upload_id"] = self.made("POST", f"{B}/uploads", {"filename": "feed.csv", "format": "CSV"})
        wait_until(lambda: self.notification() not in (None, "PENDING"), 60)
        # The job's end is announced too (to nobody yet): settled, so that snapshots stay still.
        wait_until(lambda: self.get(self.path(f"{B}/bulk-jobs/<job_id>"))["notification"]["status"] != "PENDING", 60)
        assert self.call("PUT", f"{B}/settings/notifications", SETTINGS, self.admin).status_code == 200

    def notification(self) -> str | None:
        note = self.get(self.path(f"{B}/exports/<export_id>"))["notification"]
        return note and note["status"]

    def path(self, route: str) -> str:
        named = {"brand_id": self.ids["brand"], "category_id": self.ids["category"]}
        return re.sub(r"<(\w+)>", lambda m: named.get(m[1]) or self.ids[m[1]], route)

    def call(self, method: str, path: str, body: Any, hdrs: dict[str, str]) -> Any:
        return self.client.open(path, method=method, json=body, headers=hdrs)

    def made(self, method: str, path: str, body: Any) -> str:
        resp = self.call(method, path, body, self.admin)
        assert resp.status_code in (201, 202), resp.get_data(as_text=True)[:300]
        return str(resp.get_json()["id"])

    def get(self, path: str) -> Any:
        resp = self.call("GET", path, None, self.admin)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.get_json()

    def snapshot(self) -> dict[str, Any]:
        """Everything a write could have changed, as the ADMIN reads it."""
        state = {name: self.get(f"{B}/{name}") for name in [*LISTED, "settings/notifications"]}
        for job_type in ("BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"):
            state[job_type] = self.get(f"{B}/bulk-jobs?type={job_type}")
        state["variants"] = self.get(self.path(f"{B}/products/<product_id>/variants"))
        stats = self.get(f"{B}/stats")  # the figures, less the moment they were read
        del stats["generated_at"], stats["bulk_jobs"]["since"]
        state["stats"] = stats
        return state

    def answers(self, table: list[tuple[Any, ...]], hdrs: dict[str, str]) -> dict[tuple[str, str], Any]:
        """What each (method, route, body, ...) of `table` answers the caller of `hdrs`."""
        return {(m, route): self.call(m, self.path(route), body, hdrs) for m, route, body, *_ in table}

    def statuses(self, table: list[tuple[Any, ...]], hdrs: dict[str, str]) -> dict[tuple[str, str], int]:
        return {key: resp.status_code for key, resp in self.answers(table, hdrs).items()}


@pytest.fixture()
def world(client: Any, keys: tuple[Path, Path], scope: Scope) -> World:
    return World(client, keys, scope)


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


class JsonApi:
    """The API through the test client, as the holder of `auth`: each call answers its JSON body,
    its status checked first when `expect` is given."""

    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client, self.auth = client, auth

    def __call__(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        resp = self.client.open(path, method=method, json=body, headers=self.auth)
        if expect is not None:
            assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def events(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(self("GET", f"/api/v1/pim/audit-logs?{query}", expect=200)["items"])

    def issues(self, product_id: str) -> set[tuple[str, str]]:
        """(code, field) of the product's open validation issues."""
        found = self("GET", f"/api/v1/pim/validation-issues?product_id={product_id}", expect=200)["items"]
        return {(i["code"], i["field"]) for i in found}


@pytest.fixture()
def api(client: Any, auth: dict[str, str]) -> JsonApi:
    return JsonApi(client, auth)
