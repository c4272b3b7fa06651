"""Integration tier: the real Google clients against the emulators the suite starts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import wait_until

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
