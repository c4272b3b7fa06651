"""Export records, the catalog as an export reads it, and notification settings, in Firestore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from shared.adapters.firestore import queries
from shared.adapters.firestore.admission import admit, run_admitting
from shared.adapters.firestore.base import TenantRoot, in_id_order, newest_first, newest_first_page, prefetched
from shared.adapters.firestore.stats import SUMMARIES
from shared.adapters.google_errors import translated
from shared.domain.catalog import Collection, Product
from shared.domain.exports import Delivery, DeliveryStatus, Export, ExportResult, ExportStatus
from shared.domain.models import Page
from shared.domain.notifications import NotificationSettings
from shared.domain.tenancy import RunningLimit, Scope
from shared.errors import NotFoundError

EXPORTS = "exports"
RUNNING = tuple(s.value for s in ExportStatus if not s.finished)  # hold one of the tenant's slots


class FirestoreExportStore:
    """Implements ExportStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._client = client
        self._root = TenantRoot(client, scope)
        self._exports = self._root.collection(EXPORTS)

    def create(self, export: Export, limit: RunningLimit | None = None) -> None:
        ref = self._exports.document(export.id)
        if limit is None:
            with translated("export"):
                ref.create(export.model_dump(mode="python"))
            return

        @firestore.transactional
        def create(txn: firestore.Transaction) -> None:
            admit(self._client, txn, export.tenant_id, ref, RUNNING, limit)
            txn.create(ref, export.model_dump(mode="python"))

        with translated("export"):
            run_admitting(self._client, create)

    def get(self, export_id: str) -> Export:
        with translated("export"):
            snap = self._exports.document(export_id).get()
        if not snap.exists:
            raise NotFoundError("export not found")
        return Export.model_validate(snap.to_dict())

    def list(self, limit: int, cursor: str | None) -> Page[Export]:
        with translated("exports"):
            return newest_first_page(Export, newest_first(queries.EXPORTS, self._exports, limit, cursor), limit)

    def begin(self, export_id: str, now: datetime) -> Export:
        def begin(e: Export) -> dict[str, Any] | None:
            if e.status.finished:
                return None
            return {"status": ExportStatus.RUNNING, "attempts": e.attempts + 1, "started_at": e.started_at or now}

        return self._change(export_id, now, begin)

    def claim(self, export_id: str, result: ExportResult) -> Export:
        def claim(e: Export) -> dict[str, Any] | None:
            return None if e.result or e.status.finished else {"result": result.model_dump()}

        return self._change(export_id, None, claim)

    def finish(
        self, export_id: str, status: ExportStatus, delivery: Delivery, now: datetime, reason: str | None
    ) -> Export:
        return self._change(
            export_id, now, lambda e: None if e.status.finished else e.finishing(status, delivery, now, reason)
        )

    def save_delivery(self, export_id: str, delivery: Delivery, now: datetime) -> None:
        with translated("export"):
            self._exports.document(export_id).update(
                {"notification": delivery.model_dump(mode="python"), "updated_at": now}
            )

    def claim_rescue(self, export_id: str, stalled_before: datetime, now: datetime) -> Export | None:
        def stalled(e: Export) -> bool:
            return not e.status.finished and e.updated_at < stalled_before

        return self._claim(export_id, now, stalled, "rescues")

    def claim_notify_rescue(self, export_id: str, stalled_before: datetime, now: datetime) -> Export | None:
        def stalled(e: Export) -> bool:
            note = e.notification
            due = note.next_attempt_at if note and note.next_attempt_at else e.updated_at
            return bool(note and note.status is DeliveryStatus.PENDING) and max(due, e.updated_at) < stalled_before

        return self._claim(export_id, now, stalled, "notify_rescues")

    def fail_delivery(self, export_id: str, reason: str, now: datetime) -> None:
        def fail(e: Export) -> dict[str, Any] | None:
            if e.notification is None or e.notification.status is not DeliveryStatus.PENDING:
                return None
            failed = e.notification.model_copy(
                update={"status": DeliveryStatus.FAILED, "last_error": reason, "next_attempt_at": None}
            )
            return {"notification": failed.model_dump(mode="python")}

        self._change(export_id, now, fail)

    def _claim(self, export_id: str, now: datetime, stalled: Callable[[Export], bool], counter: str) -> Export | None:
        """Count one more rescue in `counter` if the export is still `stalled`, checked inside the
        transaction: of two checks racing, the second finds it touched and leaves it."""
        claimed: list[bool] = []

        def claim(e: Export) -> dict[str, Any] | None:
            claimed[:] = [stalled(e)]
            return {counter: getattr(e, counter) + 1} if claimed[0] else None

        try:
            export = self._change(export_id, now, claim)
        except NotFoundError:
            return None
        return export if claimed[0] else None

    def _change(
        self, export_id: str, now: datetime | None, change: Callable[[Export], dict[str, Any] | None]
    ) -> Export:
        """Read the export and apply what `change` makes of it, in one transaction."""
        ref = self._exports.document(export_id)

        @firestore.transactional
        def apply(txn: firestore.Transaction) -> Export:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise NotFoundError("export not found")
            data = snap.to_dict()
            changes = change(Export.model_validate(data))
            if not changes:
                return Export.model_validate(data)
            if now is not None:
                changes["updated_at"] = now
            txn.update(ref, changes)
            return Export.model_validate({**data, **changes})

        with translated("export"):
            export: Export = apply(self._client.transaction())
        return export

    def products(self) -> Iterator[tuple[Product, bool]]:
        """Every product in id order, each with whether it is blocked, from two streamed queries
        merged on id: the products, and the ids of blocked products. Memory stays flat; a
        thread reads ahead while the caller writes."""
        return prefetched(self._merged())

    def _merged(self) -> Iterator[tuple[Product, bool]]:
        products = self._root.collection(Collection.PRODUCTS)
        summaries = self._root.collection(SUMMARIES)
        blocked_query = summaries.where(filter=FieldFilter("blocks_export", "==", True))
        blocked = (s.id for s in in_id_order(summaries, query=blocked_query, fields=["product_id"]))
        next_blocked = next(blocked, None)
        for snap in in_id_order(products):
            # Ids are ASCII uuids, so str order is Firestore's id order.
            while next_blocked is not None and next_blocked < snap.id:
                next_blocked = next(blocked, None)
            yield Product.model_validate(snap.to_dict()), snap.id == next_blocked


class FirestoreNotificationSettingsStore:
    """Implements NotificationSettingsStore: one document per tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._doc = TenantRoot(client, scope).collection("settings").document("notifications")

    def get(self) -> NotificationSettings | None:
        with translated("notification settings"):
            snap = self._doc.get()
        return NotificationSettings.model_validate(snap.to_dict()) if snap.exists else None

    def put(self, settings: NotificationSettings) -> None:
        with translated("notification settings"):
            self._doc.set(settings.model_dump(mode="python"))
