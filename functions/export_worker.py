"""`export_worker`: the Cloud Tasks target that runs exports and notifies tenants (of exports and
of bulk jobs)."""

from __future__ import annotations

from typing import Annotated, Any

import functions_framework
from pydantic import Field, RootModel

from shared import wiring
from shared.http import task_handler
from shared.services.tasks import ExportTask, JobNoticeTask


class NotificationWorkerTask(RootModel[Annotated[ExportTask | JobNoticeTask, Field(discriminator="kind")]]):
    """What the export worker is sent: an export's run (exports queue), an export's or a bulk job's
    notice (notifications queue)."""


def run(body: NotificationWorkerTask, attempt: int) -> str:
    task = body.root
    if isinstance(task, JobNoticeTask):
        return wiring.job_notifications(task.scope).notify(task.job_id, task.attempt)
    # Runs count their own attempts on the record (EXPORT_MAX_ATTEMPTS), crashed ones included.
    return wiring.export_processor(task.scope).handle(task)


handle = task_handler(NotificationWorkerTask, run)


@functions_framework.http
def export_worker(request: Any) -> Any:
    return handle(request)
