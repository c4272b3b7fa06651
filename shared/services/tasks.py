"""The messages Cloud Tasks carries to the bulk-job worker, and their deterministic names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.domain.tenancy import Scope


class WorkerTask(BaseModel):
    """`start` moves a job to PROCESSING and fans out one `batch` task per batch."""

    kind: Literal["start", "batch"]
    tenant_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    org_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    job_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    batch_index: int | None = Field(None, ge=0)

    @classmethod
    def start(cls, scope: Scope, job_id: str) -> WorkerTask:
        return cls(kind="start", tenant_id=scope.tenant_id, org_id=scope.org_id, job_id=job_id)

    @classmethod
    def batch(cls, scope: Scope, job_id: str, batch_index: int) -> WorkerTask:
        return cls(kind="batch", tenant_id=scope.tenant_id, org_id=scope.org_id, job_id=job_id, batch_index=batch_index)

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.org_id)

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# Names lead with the random job id so they spread over Cloud Tasks' key space.
def start_task_name(job_id: str) -> str:
    return f"{job_id}-start"


def batch_task_name(job_id: str, batch_index: int) -> str:
    return f"{job_id}-batch-{batch_index:05d}"


class ExportTask(BaseModel):
    """`run` writes an export's file; `notify` makes one attempt at telling the tenant it finished."""

    kind: Literal["run", "notify"]
    tenant_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    org_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    export_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    attempt: int = Field(1, ge=1, description="Which delivery attempt a notify task makes.")

    @classmethod
    def run(cls, scope: Scope, export_id: str) -> ExportTask:
        return cls(kind="run", tenant_id=scope.tenant_id, org_id=scope.org_id, export_id=export_id)

    @classmethod
    def notify(cls, scope: Scope, export_id: str, attempt: int) -> ExportTask:
        return cls(kind="notify", tenant_id=scope.tenant_id, org_id=scope.org_id, export_id=export_id, attempt=attempt)

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.org_id)

    @property
    def name(self) -> str:
        """Deterministic, so a task queued twice is one task."""
        suffix = "run" if self.kind == "run" else f"notify-{self.attempt}"
        return f"{self.export_id}-{suffix}"

    def to_body(self) -> dict[str, Any]:
        return self.model_dump()
