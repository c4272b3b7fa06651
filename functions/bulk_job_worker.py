"""`bulk_job_worker`: the Cloud Tasks target that runs bulk jobs, one batch per task."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import wiring
from shared.http import task_handler
from shared.services.tasks import WorkerTask


def run(task: WorkerTask, attempt: int) -> str:
    return wiring.bulk_job_processor(task.scope).handle(task, attempt)


handle = task_handler(WorkerTask, run)


@functions_framework.http
def bulk_job_worker(request: Any) -> Any:
    return handle(request)
