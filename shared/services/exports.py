"""Catalog exports: requested by the API, run by the export worker, announced to the tenant.

Cloud Tasks delivers at least once, so every step is safe to repeat:
- `run` streams the catalog into a staged object named by its own attempt. The first attempt to
  claim its staged object in the export record wins; only the winner's bytes are published under
  the export's path (a repeat copies the same bytes), so the file is never two runs mixed.
- `notify` makes delivery attempt N once per task (shared.services.notifications); a failure
  schedules attempt N+1 with a doubling delay. Every attempt carries the same event id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.catalog import Collection
from shared.domain.exports import (
    Delivery,
    DeliveryStatus,
    Export,
    ExportFormat,
    ExportResult,
    ExportSchema,
    ExportStatus,
    ExportView,
    RowWriter,
    export_object_path,
    staged_object_path,
)
from shared.domain.models import Page
from shared.domain.notifications import EventEnvelope, email_text, event_id, event_type
from shared.domain.tenancy import Principal, RunningLimit, Scope
from shared.errors import NotFoundError, PermanentTaskError, SynqError, UnavailableError
from shared.services.notifications import Notifier, NotifyPolicy
from shared.services.ports import (
    CatalogStore,
    ExportFiles,
    ExportStore,
    Mailer,
    NotificationSettingsStore,
    TaskQueue,
    WebhookSender,
)
from shared.services.tasks import ExportTask

MAX_PAGE = 100


@dataclass(frozen=True)
class ExportPolicy:
    max_attempts: int  # export runs before the export is FAILED
    url_ttl: timedelta  # life of a download URL
    notify_max_attempts: int
    notify_backoff_seconds: float
    notify_backoff_max_seconds: float
    running: RunningLimit | None  # the tenant's QUEUED + RUNNING exports at most; None: any


@dataclass
class Exports:
    """The API's use cases."""

    scope: Scope
    store: ExportStore
    files: ExportFiles
    tasks: TaskQueue
    policy: ExportPolicy
    clock: Callable[[], datetime]

    def request(self, actor: Principal, fmt: ExportFormat) -> ExportView:
        export_id = str(uuid.uuid4())
        now = self.clock()
        export = Export(
            id=export_id,
            tenant_id=self.scope.tenant_id,
            org_id=self.scope.org_id,
            status=ExportStatus.QUEUED,
            format=fmt,
            bucket=self.files.bucket,
            object_path=export_object_path(self.scope, export_id, fmt),
            created_by=actor.email,
            created_at=now,
            updated_at=now,
        )
        self.store.create(export, limit=self.policy.running)
        task = ExportTask.run(self.scope, export_id)
        try:
            self.tasks.enqueue(task.name, task.to_body())
        except UnavailableError:
            # Nothing will run it: say so on the record rather than leave it QUEUED.
            delivery = _delivery(export_id, ExportStatus.FAILED, DeliveryStatus.NOT_CONFIGURED)
            self.store.finish(export_id, ExportStatus.FAILED, delivery, self.clock(), "the export could not be queued")
            raise
        return export.view()

    def get(self, export_id: str) -> ExportView:
        return view_of(self.store.get(export_id), self.files, self.policy.url_ttl, self.clock)

    def list(self, limit: int, cursor: str | None) -> Page[ExportView]:
        # No download URLs in lists: signing one costs a call to IAM in production.
        page = self.store.list(min(limit, MAX_PAGE), cursor)
        return Page[ExportView](items=[e.view() for e in page.items], next_cursor=page.next_cursor)


def view_of(export: Export, files: ExportFiles, ttl: timedelta, clock: Callable[[], datetime]) -> ExportView:
    if export.status is not ExportStatus.COMPLETED:
        return export.view()
    return export.view(files.signed_url(export.object_path, ttl), clock() + ttl)


def _delivery(export_id: str, status: ExportStatus, delivery: DeliveryStatus = DeliveryStatus.PENDING) -> Delivery:
    kind = event_type(status)
    return Delivery(event_id=event_id(export_id, kind), event_type=kind, status=delivery)


@contextmanager
def _must_exist(export_id: str) -> Iterator[None]:
    """A task naming an export that does not exist can never succeed: no retry."""
    try:
        yield
    except NotFoundError as exc:
        raise PermanentTaskError(f"export {export_id} does not exist") from exc


@dataclass
class ExportProcessor:
    """The export worker's use cases: run an export, notify the tenant."""

    scope: Scope
    store: ExportStore
    settings: NotificationSettingsStore
    files: ExportFiles
    tasks: TaskQueue
    webhooks: WebhookSender
    mailer: Mailer
    policy: ExportPolicy
    clock: Callable[[], datetime]
    notices: TaskQueue | None = None  # notification attempts (the notifications queue); None: on `tasks`
    catalog: CatalogStore | None = None  # attribute definitions and templates, for their columns

    def handle(self, task: ExportTask) -> str:
        return self.run(task.export_id) if task.kind == "run" else self.notify(task.export_id, task.attempt)

    # --- run ---------------------------------------------------------------------------------
    def run(self, export_id: str) -> str:
        with _must_exist(export_id):
            export = self.store.begin(export_id, self.clock())
        if export.status.finished:
            self._queue_notify(export_id, 1)  # in case a crash came between finishing and queueing
            return f"already {export.status.value}"
        if export.attempts > self.policy.max_attempts:
            return self._fail(export, f"gave up after {self.policy.max_attempts} attempts")
        if export.result is None:
            try:
                result = self._write(export)
            except SynqError as exc:
                if export.attempts >= self.policy.max_attempts:
                    return self._fail(export, exc.message)
                raise
            export = self.store.claim(export_id, result)
            if export.result is None or export.result.attempt_id != result.attempt_id:
                self.files.delete(result.staged_object)  # another attempt won; its file stands
        if export.result is None:  # another attempt failed the export meanwhile
            self._queue_notify(export_id, 1)
            return f"already {export.status.value}"
        if not export.status.finished:
            filename = f"catalog-export-{export.created_at:%Y%m%d-%H%M%S}.{export.format.extension}"
            try:
                self.files.publish(export.result.staged_object, export.object_path, filename)
            except NotFoundError:
                # A concurrent delivery finished first and removed the staged object.
                if not self.store.get(export_id).status.finished:
                    raise
            else:
                self.store.finish(
                    export_id, ExportStatus.COMPLETED, _delivery(export_id, ExportStatus.COMPLETED), self.clock(), None
                )
                self.files.delete(export.result.staged_object)
        self._queue_notify(export_id, 1)
        return "completed"

    def _write(self, export: Export) -> ExportResult:
        """Stream every product into a staged object of this attempt's own; count as it goes."""
        attempt_id = uuid.uuid4().hex
        staged = staged_object_path(self.scope, export.id, attempt_id, export.format)
        counts = {"rows": 0, "excluded": 0}

        schema = (
            ExportSchema(
                definitions=self.catalog.all_of(Collection.ATTRIBUTES),
                templates=self.catalog.all_of(Collection.TEMPLATES),
            )
            if self.catalog is not None
            else None  # no catalog to read: the products' own fields only
        )

        def chunks() -> Iterator[bytes]:
            rows = RowWriter(export.format, schema)
            yield rows.header()
            for product, blocked in self.store.products():
                if blocked:
                    counts["excluded"] += 1
                    continue
                counts["rows"] += 1
                yield rows.row(product)

        size = self.files.write(staged, export.format.content_type, chunks())
        return ExportResult(
            attempt_id=attempt_id,
            staged_object=staged,
            row_count=counts["rows"],
            excluded_count=counts["excluded"],
            size_bytes=size,
        )

    def _fail(self, export: Export, reason: str) -> str:
        self.store.finish(
            export.id, ExportStatus.FAILED, _delivery(export.id, ExportStatus.FAILED), self.clock(), reason
        )
        self._queue_notify(export.id, 1)
        return "failed"

    def _queue_notify(self, export_id: str, attempt: int, not_before: datetime | None = None) -> None:
        task = ExportTask.notify(self.scope, export_id, attempt)
        (self.tasks if self.notices is None else self.notices).enqueue(task.name, task.to_body(), not_before)

    # --- notify ------------------------------------------------------------------------------
    def notify(self, export_id: str, attempt: int) -> str:
        with _must_exist(export_id):
            export = self.store.get(export_id)
        notifier = Notifier(
            self.settings,
            self.webhooks,
            self.mailer,
            NotifyPolicy(
                self.policy.notify_max_attempts,
                self.policy.notify_backoff_seconds,
                self.policy.notify_backoff_max_seconds,
            ),
            self.clock,
        )
        view = view_of(export, self.files, self.policy.url_ttl, self.clock) if export.notification else None

        def event(delivery: Delivery) -> EventEnvelope:
            assert view is not None
            return EventEnvelope(
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                timestamp=view.completed_at or view.updated_at,
                tenant_id=view.tenant_id,
                org_id=view.org_id,
                payload=view.model_dump(mode="json"),
            )

        def email() -> tuple[str, str]:
            assert view is not None
            return email_text(view)

        done = notifier.attempt(export.notification, attempt, event, email)
        if done.outcome == "nothing to tell yet":
            return "export not finished"
        if done.delivery is not None:
            self.store.save_delivery(export_id, done.delivery, self.clock())
        if done.next_attempt_at is not None:
            self._queue_notify(export_id, attempt + 1, done.next_attempt_at)
        return done.outcome
