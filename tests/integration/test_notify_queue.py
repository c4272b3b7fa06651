"""Notification attempts travel on a queue of their own (NOTIFY_QUEUE): with the exports queue
held up (as twenty long export runs would hold it), a bulk job's end is still announced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import wiring
from tests.integration.conftest import JobsApi
from tests.support import wait_until


@pytest.fixture()
def exports_queue_held(stack_env: dict[str, str]) -> Iterator[None]:
    client = wiring.tasks_client()
    path = client.queue_path(stack_env["GCP_PROJECT"], stack_env["TASKS_LOCATION"], stack_env["EXPORTS_QUEUE"])
    client.pause_queue(name=path)
    try:
        yield
    finally:
        client.resume_queue(name=path)


@pytest.mark.usefixtures("exports_queue_held")
def test_a_jobs_announcement_is_delivered_while_the_exports_queue_is_held_up(jobs: JobsApi) -> None:
    job = jobs.run("BULK_IMPORT", [{"title": "Announced", "sku": "ANN-1"}])
    assert job["status"] == "COMPLETED"

    def settled() -> str | None:
        status = jobs.get(job["id"])["notification"]["status"]
        return None if status == "PENDING" else status

    assert wait_until(settled, 60) == "NOT_CONFIGURED"  # attempted: the tenant has nobody to tell
