"""`bulk_job_worker`: the Cloud Tasks target that runs bulk jobs, one batch per task, and the
re-evaluation of products after an attribute definition or product template changed, one page
per task."""

from __future__ import annotations

from typing import Annotated, Any

import functions_framework
from pydantic import Field, RootModel

from shared import wiring
from shared.http import task_handler
from shared.services.tasks import ReevaluationTask, WorkerTask


class BulkWorkerTask(RootModel[Annotated[WorkerTask | ReevaluationTask, Field(discriminator="kind")]]):
    """What the bulk-job queue carries: a job's start or batch, or a page of a re-evaluation."""


def run(body: BulkWorkerTask, attempt: int) -> str:
    task = body.root
    if isinstance(task, ReevaluationTask):
        return wiring.reevaluation(task.scope).handle(task)
    return wiring.bulk_job_processor(task.scope).handle(task, attempt)


handle = task_handler(BulkWorkerTask, run)


@functions_framework.http
def bulk_job_worker(request: Any) -> Any:
    return handle(request)
