"""A transaction the store keeps aborting: the client library gives up after its attempts with
a ValueError of its own, which must reach callers as the retryable 503 every other storage
hiccup is, not as an unexpected 500."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from google.cloud import firestore

from shared import wiring
from shared.adapters.firestore.exports import FirestoreExportStore
from shared.domain.exports import Export, ExportFormat, ExportStatus
from shared.domain.tenancy import Scope
from shared.errors import UnavailableError
from shared.http import error_response


@contextmanager
def held_by_a_rival(doc: Any) -> Iterator[None]:
    """Another client's transaction reads `doc` and stays open: the emulator's locking keeps any
    transaction that writes `doc` waiting until it times out and aborts it (about 2 s a time)."""
    rival = firestore.Client(project=wiring.get_settings().gcp_project)
    read, release = threading.Event(), threading.Event()

    @firestore.transactional
    def hold(txn: firestore.Transaction) -> None:
        rival.document(doc.path).get(transaction=txn)
        read.set()
        release.wait(120)

    holder = threading.Thread(target=hold, args=(rival.transaction(max_attempts=1),), daemon=True)
    holder.start()
    assert read.wait(30)
    try:
        yield
    finally:
        release.set()
        holder.join(30)


def test_a_transaction_aborted_on_every_attempt_is_a_503(scope: Scope) -> None:
    store = FirestoreExportStore(wiring.firestore_client(), scope)
    now = wiring.utc_now()
    export_id = str(uuid.uuid4())
    store.create(
        Export(
            id=export_id,
            tenant_id=scope.tenant_id,
            org_id=scope.org_id,
            status=ExportStatus.QUEUED,
            format=ExportFormat.NDJSON,
            bucket="exports",
            object_path=f"exports/{export_id}.ndjson",
            created_by="ops@example.com",
            created_at=now,
            updated_at=now,
        )
    )
    with held_by_a_rival(store._exports.document(export_id)), pytest.raises(UnavailableError) as raised:
        store.begin(export_id, now)  # a transaction: read the export, write it RUNNING
    assert isinstance(raised.value.__cause__, ValueError)  # what the library gave up with
    answer = error_response(raised.value)
    assert answer.status_code == 503
    assert answer.get_json() == {"error": raised.value.message, "code": "UNAVAILABLE"}
    assert store.get(export_id).status is ExportStatus.QUEUED  # nothing was written
