"""Telling a tenant a bulk job ended (COMPLETED, FAILED or CANCELLED), by its notification settings,
as exports do: the pending delivery is written with the final status itself, the announcement is
queued after that write, and each notify task makes one attempt (shared.services.notifications).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain.deliveries import Delivery
from shared.domain.models import BulkJob
from shared.domain.notifications import EventEnvelope, job_email_text
from shared.domain.tenancy import Scope
from shared.errors import NotFoundError, PermanentTaskError
from shared.services.notifications import Notifier
from shared.services.ports import JobStore, TaskQueue
from shared.services.tasks import JobNoticeTask


def announce(
    queue: TaskQueue | None, scope: Scope, job_id: str, attempt: int = 1, when: datetime | None = None
) -> None:
    """Queue attempt `attempt` at telling the tenant the job ended (None: nobody to queue it to)."""
    if queue is not None:
        task = JobNoticeTask.of(scope, job_id, attempt)
        queue.enqueue(task.name, task.to_body(), when)


def job_event(job: BulkJob, delivery: Delivery) -> EventEnvelope:
    """The webhook event: the job as the API shows it, less the payload it was sent."""
    view = job.view(include_payload=False)
    return EventEnvelope(
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        timestamp=job.completed_at or job.updated_at,
        tenant_id=job.tenant_id,
        org_id=job.org_id,
        payload=view.model_dump(mode="json", exclude={"payload", "notification"}),
    )


@dataclass
class JobNotifications:
    scope: Scope
    jobs: JobStore
    notifier: Notifier
    tasks: TaskQueue  # where the next attempt is queued
    clock: Callable[[], datetime]

    def notify(self, job_id: str, attempt: int) -> str:
        try:
            job = self.jobs.get_job(job_id)
        except NotFoundError as exc:
            raise PermanentTaskError(f"job {job_id} does not exist") from exc
        done = self.notifier.attempt(
            job.notification,
            attempt,
            lambda delivery: job_event(job, delivery),
            lambda: job_email_text(job.view(include_payload=False)),
        )
        if done.delivery is not None:
            self.jobs.save_delivery(job_id, done.delivery, self.clock())
        if done.next_attempt_at is not None:
            announce(self.tasks, self.scope, job_id, attempt + 1, done.next_attempt_at)
        return done.outcome
