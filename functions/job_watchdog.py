"""`job_watchdog`: the scheduled check that re-queues the lost tasks of silent bulk jobs and
exports, and fails those rescued too often (Cloud Scheduler calls it; `make watchdog` locally)."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
from shared.http import task_handler


class WatchdogRequest(BaseModel):
    budget_seconds: float = Field(120, gt=0, le=3000, description="Stop after this long; the next run goes on.")


def run(request: WatchdogRequest, attempt: int) -> dict[str, Any]:
    return wiring.watchdog().run(request.budget_seconds).model_dump(mode="json")


# IAM lets only the scheduler's account call it; it holds the task token only to give it to the
# tasks it queues.
handle = task_handler(WatchdogRequest, run, check_token=False)


@functions_framework.http
def job_watchdog(request: Any) -> Any:
    return handle(request)
