"""`export_worker`: the Cloud Tasks target that runs exports and notifies tenants."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import wiring
from shared.http import task_handler
from shared.services.tasks import ExportTask


def run(task: ExportTask, attempt: int) -> str:
    # Runs count their own attempts on the record (EXPORT_MAX_ATTEMPTS), crashed ones included.
    return wiring.export_processor(task.scope).handle(task)


handle = task_handler(ExportTask, run)


@functions_framework.http
def export_worker(request: Any) -> Any:
    return handle(request)
