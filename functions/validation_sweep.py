"""`validation_sweep`: the scheduled re-evaluation of every tenant's catalog (Cloud Scheduler
calls it; a run stops at its time budget and the next one resumes where it stopped)."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
from shared.http import task_handler


class SweepRequest(BaseModel):
    budget_seconds: float = Field(240, gt=0, le=3000, description="Stop (and save the cursor) after this long.")


def run(request: SweepRequest, attempt: int) -> dict[str, Any]:
    return wiring.sweep().run(request.budget_seconds).model_dump(mode="json")


handle = task_handler(SweepRequest, run)


@functions_framework.http
def validation_sweep(request: Any) -> Any:
    return handle(request)
