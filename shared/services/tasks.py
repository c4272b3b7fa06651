"""The messages Cloud Tasks carries to the workers, and their deterministic names."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shared.domain.tenancy import Scope

Uuid = Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]


class TenantTask(BaseModel):
    """What every task carries: whose data it works on."""

    tenant_id: Uuid
    org_id: Uuid

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.org_id)

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class WorkerTask(TenantTask):
    """`start` moves a job to PROCESSING and fans out one `batch` task per batch."""

    kind: Literal["start", "batch"]
    job_id: Uuid
    batch_index: int | None = Field(None, ge=0)

    @classmethod
    def start(cls, scope: Scope, job_id: str) -> WorkerTask:
        return cls(kind="start", tenant_id=scope.tenant_id, org_id=scope.org_id, job_id=job_id)

    @classmethod
    def batch(cls, scope: Scope, job_id: str, batch_index: int) -> WorkerTask:
        return cls(kind="batch", tenant_id=scope.tenant_id, org_id=scope.org_id, job_id=job_id, batch_index=batch_index)


# Names lead with the random job id so they spread over Cloud Tasks' key space.
def start_task_name(job_id: str) -> str:
    return f"{job_id}-start"


def batch_task_name(job_id: str, batch_index: int) -> str:
    return f"{job_id}-batch-{batch_index:05d}"


def rescue_task_name(name: str, rescue: int) -> str:
    """The name of a task re-queued by the watchdog: Cloud Tasks refuses a name used within about
    an hour (silently, to this app: it reads as "already queued"), so each rescue gets its own."""
    return f"{name}-r{rescue}"


class ReevaluationTask(TenantTask):
    """One task of a re-evaluation run after an attribute definition or a product template changed:
    the products after `after` in id order (of `template_id` only, when given), as many pages as
    its time budget allows. `page` is the task's place in the run (0, 1, ...), not a page count."""

    kind: Literal["reevaluate"]
    run_id: Uuid
    template_id: Uuid | None = None
    page: int = Field(0, ge=0)
    after: str | None = Field(None, max_length=1500)

    @classmethod
    def first(cls, scope: Scope, run_id: str, template_id: str | None = None) -> ReevaluationTask:
        return cls(
            kind="reevaluate", tenant_id=scope.tenant_id, org_id=scope.org_id, run_id=run_id, template_id=template_id
        )

    def next(self, after: str) -> ReevaluationTask:
        return self.model_copy(update={"page": self.page + 1, "after": after})

    @property
    def name(self) -> str:
        """Deterministic per run and place in it, so a redelivered task queues its successor once
        (under the same name, wherever its budget stopped it)."""
        return f"{self.run_id}-reevaluate-{self.page:06d}"


class ExportTask(TenantTask):
    """`run` writes an export's file; `notify` makes one attempt at telling the tenant it finished."""

    kind: Literal["run", "notify"]
    export_id: Uuid
    attempt: int = Field(1, ge=1, description="Which delivery attempt a notify task makes.")

    @classmethod
    def run(cls, scope: Scope, export_id: str) -> ExportTask:
        return cls(kind="run", tenant_id=scope.tenant_id, org_id=scope.org_id, export_id=export_id)

    @classmethod
    def notify(cls, scope: Scope, export_id: str, attempt: int) -> ExportTask:
        return cls(kind="notify", tenant_id=scope.tenant_id, org_id=scope.org_id, export_id=export_id, attempt=attempt)

    @property
    def name(self) -> str:
        """Deterministic, so a task queued twice is one task."""
        suffix = "run" if self.kind == "run" else f"notify-{self.attempt}"
        return f"{self.export_id}-{suffix}"


class JobNoticeTask(TenantTask):
    """Makes one attempt at telling the tenant a bulk job ended. It travels on the notifications
    queue to the export worker, which sends every notification."""

    kind: Literal["job_notify"]
    job_id: Uuid
    attempt: int = Field(1, ge=1)

    @classmethod
    def of(cls, scope: Scope, job_id: str, attempt: int = 1) -> JobNoticeTask:
        return cls(kind="job_notify", tenant_id=scope.tenant_id, org_id=scope.org_id, job_id=job_id, attempt=attempt)

    @property
    def name(self) -> str:
        """Deterministic, so a job's end announced twice is one task."""
        return f"{self.job_id}-notify-{self.attempt}"
