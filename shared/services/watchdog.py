"""The job watchdog: the scheduled check that every bulk job and export reaches a final status even
when its tasks are lost (a queue purged, a task deleted, attempts exhausted).

It looks for records silent too long: bulk jobs PENDING or PROCESSING, exports QUEUED or RUNNING,
notifications PENDING past their next attempt. Each one is first *claimed* (a transaction that
counts a rescue and marks the record touched, only if it is still silent), so two checks running
at once never act on the same record twice. The claimer then re-queues what is missing under
fresh task names (Cloud Tasks refuses a name used within about an hour), or, after too many
rescues, ends it FAILED. Re-queueing work that was only slow is harmless: batches commit behind a
marker created once, and export runs claim their result once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, Protocol

from pydantic import BaseModel

from shared import logs
from shared.domain.exports import Delivery, DeliveryStatus, Export, ExportStatus
from shared.domain.models import BulkJob, JobStatus
from shared.domain.notifications import event_id, event_type
from shared.domain.tenancy import Scope
from shared.services.batch_commit import not_applied_after_parts
from shared.services.job_notifications import announce
from shared.services.ports import ExportStore, JobStore, TaskQueue
from shared.services.tasks import (
    ExportTask,
    JobNoticeTask,
    WorkerTask,
    batch_task_name,
    rescue_task_name,
    start_task_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stalled:
    """A record some check found silent: whose it is and its id."""

    scope: Scope
    record_id: str


class WatchdogStore(Protocol):
    """Silent records across every tenant, oldest first, read a page at a time."""

    def stalled_jobs(self, before: datetime) -> Iterator[Stalled]:
        """Bulk jobs PENDING or PROCESSING last updated before `before`."""
        ...

    def stalled_exports(self, before: datetime) -> Iterator[Stalled]:
        """Exports QUEUED or RUNNING last updated before `before`."""
        ...

    def stalled_notifications(self, before: datetime) -> Iterator[Stalled]:
        """Exports whose notification is PENDING, last updated before `before` (its next attempt
        may still lie ahead: the claim decides)."""
        ...

    def stalled_job_notifications(self, before: datetime) -> Iterator[Stalled]:
        """Bulk jobs whose announcement is PENDING, last updated before `before`."""
        ...


@dataclass(frozen=True)
class WatchdogPolicy:
    job_stall: timedelta  # silence after which a job or a notification is rescued
    export_stall: timedelta  # the same for an export run (a healthy one may take 30 minutes)
    max_rescues: int  # then the record is FAILED
    # Batches of a job in flight (JOB_MAX_IN_FLIGHT_BATCHES): a rescue re-queues the missing ones up
    # to this many past the highest committed, as the job's own follow-on tasks would; None: all.
    max_in_flight: int | None = None


class WatchdogReport(BaseModel):
    status: Literal["completed", "paused"] = "completed"
    jobs_rescued: int = 0
    jobs_finished: int = 0  # every batch was committed; only the final flip was missing
    jobs_failed: int = 0
    exports_rescued: int = 0
    exports_failed: int = 0
    notifications_rescued: int = 0
    notifications_failed: int = 0
    skipped: int = 0  # moved on, or claimed by another check, since it was found
    errors: int = 0  # could not be handled this time (left for the next run)


Rescue = Callable[[Stalled, datetime, WatchdogReport], None]


@dataclass
class Watchdog:
    store: WatchdogStore
    jobs_for: Callable[[Scope], JobStore]
    exports_for: Callable[[Scope], ExportStore]
    job_tasks: TaskQueue
    export_tasks: TaskQueue
    policy: WatchdogPolicy
    clock: Callable[[], datetime]
    timer: Callable[[], float] = time.monotonic
    notify_tasks: TaskQueue | None = None  # announcements' attempts; None: on export_tasks

    @property
    def _notices(self) -> TaskQueue:
        return self.notify_tasks or self.export_tasks

    def run(self, budget_seconds: float) -> WatchdogReport:
        """One pass over everything silent, until done or out of budget. Nothing is remembered
        between runs: what a run rescued or failed no longer looks silent, so the next run
        starts where this one stopped."""
        deadline = self.timer() + budget_seconds
        now = self.clock()
        report = WatchdogReport()
        job_cutoff, export_cutoff = now - self.policy.job_stall, now - self.policy.export_stall
        # Each pass: what finds the records, what rescues one, the cutoff, and the log label of its id.
        passes: list[tuple[Callable[[datetime], Iterator[Stalled]], Rescue, datetime, str]] = [
            (self.store.stalled_jobs, self._job, job_cutoff, "job_id"),
            (self.store.stalled_exports, self._export, export_cutoff, "export_id"),
            (self.store.stalled_notifications, self._notification, job_cutoff, "export_id"),
            (self.store.stalled_job_notifications, self._job_notification, job_cutoff, "job_id"),
        ]
        for find, rescue, cutoff, label in passes:
            for stalled in find(cutoff):
                # A record's lines carry its labels, so they join the record's own in the logs.
                scope = stalled.scope
                with logs.labelled(tenant_id=scope.tenant_id, org_id=scope.org_id, **{label: stalled.record_id}):
                    try:
                        rescue(stalled, cutoff, report)
                    except Exception:  # one record's trouble must not block those after it
                        log.exception("watchdog could not handle %s; the next run tries again", stalled)
                        report.errors += 1
                if self.timer() > deadline:  # checked after a record: every run makes progress
                    report.status = "paused"
                    return report
        return report

    # --- bulk jobs -------------------------------------------------------------------------------
    def _job(self, stalled: Stalled, cutoff: datetime, report: WatchdogReport) -> None:
        jobs = self.jobs_for(stalled.scope)
        job = jobs.claim_rescue(stalled.record_id, cutoff, self.clock())
        if job is None:
            report.skipped += 1
            return
        if job.rescues > self.policy.max_rescues:
            self._give_up_job(jobs, job, stalled.scope)
            report.jobs_failed += 1
            return
        if job.status is JobStatus.PENDING:
            task = WorkerTask.start(stalled.scope, job.id)
            self.job_tasks.enqueue(rescue_task_name(start_task_name(job.id), job.rescues), task.to_body())
            log.warning("job %s: start task lost; re-queued (rescue %s)", job.id, job.rescues)
            report.jobs_rescued += 1
            return
        missing = self._missing_batches(jobs, job, self.policy.max_in_flight)
        if not missing:
            # Every batch committed, and the deliveries that were to judge some of them gone:
            # finished without them (the sweep judges those products).
            if jobs.finish_job_if_done(job.id, self.clock(), once_evaluated=False).status.finished:
                announce(self._notices, stalled.scope, job.id)
            report.jobs_finished += 1
            return
        for index in missing:
            task = WorkerTask.batch(stalled.scope, job.id, index)
            self.job_tasks.enqueue(rescue_task_name(batch_task_name(job.id, index), job.rescues), task.to_body())
        log.warning("job %s: %s batch task(s) lost; re-queued (rescue %s)", job.id, len(missing), job.rescues)
        report.jobs_rescued += 1

    def _give_up_job(self, jobs: JobStore, job: BulkJob, scope: Scope) -> None:
        reason = (
            f"no progress for {_minutes(self.policy.job_stall)} after {self.policy.max_rescues} rescue(s): "
            "its tasks were lost"
        )
        if job.status is JobStatus.PROCESSING:
            # Each batch left is recorded NOT_APPLIED behind its own marker, so the counts add up
            # and a task that turns up late finds its batch done instead of counting it again.
            for index in self._missing_batches(jobs, job):
                batch = jobs.batch_range(job, index)
                jobs.commit_batch(job.id, batch, not_applied_after_parts(jobs, job, batch, None, reason), self.clock())
        jobs.fail_job(job.id, reason, self.clock())
        announce(self._notices, scope, job.id)
        log.error("job %s FAILED: %s", job.id, reason)

    @staticmethod
    def _missing_batches(jobs: JobStore, job: BulkJob, window: int | None = None) -> list[int]:
        """The job's uncommitted batches; with `window`, only those up to `window` past the highest
        committed one (each re-queued batch queues its own follower once it commits)."""
        done = jobs.done_batches(job.id)
        end = job.batch_count if window is None else min(job.batch_count, max(done, default=-1) + 1 + window)
        return [index for index in range(end) if index not in done]

    # --- exports ---------------------------------------------------------------------------------
    def _export(self, stalled: Stalled, cutoff: datetime, report: WatchdogReport) -> None:
        exports = self.exports_for(stalled.scope)
        export = exports.claim_rescue(stalled.record_id, cutoff, self.clock())
        if export is None:
            report.skipped += 1
            return
        if export.rescues > self.policy.max_rescues:
            reason = (
                f"no progress for {_minutes(self.policy.export_stall)} after {self.policy.max_rescues} "
                "rescue(s): its run was lost"
            )
            exports.finish(export.id, ExportStatus.FAILED, _failed_delivery(export), self.clock(), reason)
            task = ExportTask.notify(stalled.scope, export.id, 1)
            self._notices.enqueue(task.name, task.to_body())
            log.error("export %s FAILED: %s", export.id, reason)
            report.exports_failed += 1
            return
        self._queue_export(ExportTask.run(stalled.scope, export.id), export.rescues)
        log.warning("export %s: run task lost; re-queued (rescue %s)", export.id, export.rescues)
        report.exports_rescued += 1

    def _notification(self, stalled: Stalled, cutoff: datetime, report: WatchdogReport) -> None:
        exports = self.exports_for(stalled.scope)
        export = exports.claim_notify_rescue(stalled.record_id, cutoff, self.clock())
        task = partial(ExportTask.notify, stalled.scope, stalled.record_id)
        self._rescue_announcement("export", export, exports.fail_delivery, task, report)

    def _job_notification(self, stalled: Stalled, cutoff: datetime, report: WatchdogReport) -> None:
        jobs = self.jobs_for(stalled.scope)
        job = jobs.claim_notify_rescue(stalled.record_id, cutoff, self.clock())
        self._rescue_announcement(
            "job", job, jobs.fail_delivery, partial(JobNoticeTask.of, stalled.scope, stalled.record_id), report
        )

    def _rescue_announcement(
        self,
        noun: str,
        claimed: Export | BulkJob | None,
        fail_delivery: Callable[[str, str, datetime], None],
        task_for: Callable[[int], ExportTask | JobNoticeTask],
        report: WatchdogReport,
    ) -> None:
        """Re-queue the lost next attempt of a claimed announcement, or fail it after too many."""
        if claimed is None or claimed.notification is None:
            report.skipped += 1
            return
        if claimed.notify_rescues > self.policy.max_rescues:
            reason = (
                f"no attempt for {_minutes(self.policy.job_stall)} after {self.policy.max_rescues} rescue(s): "
                "its tasks were lost"
            )
            fail_delivery(claimed.id, reason, self.clock())
            log.error("%s %s: notification FAILED: %s", noun, claimed.id, reason)
            report.notifications_failed += 1
            return
        # The attempt after the last one made; the notify handler ignores an attempt superseded.
        task = task_for(claimed.notification.attempts + 1)
        self._notices.enqueue(rescue_task_name(task.name, claimed.notify_rescues), task.to_body())
        log.warning("%s %s: notification attempt %s lost; re-queued", noun, claimed.id, task.attempt)
        report.notifications_rescued += 1

    def _queue_export(self, task: ExportTask, rescue: int | None = None) -> None:
        name = task.name if rescue is None else rescue_task_name(task.name, rescue)
        self.export_tasks.enqueue(name, task.to_body())


def _failed_delivery(export: Export) -> Delivery:
    kind = event_type(ExportStatus.FAILED)
    return Delivery(event_id=event_id(export.id, kind), event_type=kind, status=DeliveryStatus.PENDING)


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} minutes"
