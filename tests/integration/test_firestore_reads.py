"""The direct read path (`wire.get_all`) yields exactly what the Firestore client library's
`get_all` does: the same documents, the same decoded values, the same versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions

from shared import wiring
from shared.adapters.firestore import wire
from shared.adapters.firestore.base import TenantRoot
from shared.domain.tenancy import Scope
from tests.unit.test_firestore_wire import VALUES

pytestmark = pytest.mark.usefixtures("stack_env")


def library_get_all(client: Any, paths: list[str], field_paths: list[str] | None = None) -> dict[str, Any]:
    refs = [client.document(p.split("/documents/", 1)[1]) for p in paths]
    return {s.id: (s.to_dict(), s.update_time) for s in client.get_all(refs, field_paths=field_paths) if s.exists}


def ours(client: Any, paths: list[str], field_paths: list[str] | None = None) -> dict[str, Any]:
    return {d.id: (d.data, d.update_time) for d in wire.get_all(client, paths, field_paths)}


def test_documents_decode_as_the_library_decodes_them(scope: Scope) -> None:
    client = wiring.firestore_client()
    root = TenantRoot(client, scope)
    docs: dict[str, dict[str, Any]] = {
        f"d{i}": {"value": value, "n": i, "nested": {"value": value}} for i, value in enumerate(VALUES)
    }
    docs["listed"] = {"list": [v for v in VALUES if not isinstance(v, list)]}  # no array in an array
    docs["empty"] = {}
    docs["time"] = {"at": datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC), "tags": ["a", "b"]}
    batch = client.batch()
    wire.stage(batch, [wire.put(root.path("things", doc_id), data) for doc_id, data in docs.items()])
    batch.commit()
    paths = [root.path("things", doc_id) for doc_id in [*docs, "missing-1", "missing-2"]]

    theirs = library_get_all(client, paths)
    assert ours(client, paths) == theirs
    assert set(theirs) == set(docs)
    for doc_id, (data, version) in ours(client, paths).items():
        assert data == docs[doc_id]
        assert type(version) is type(theirs[doc_id][1])

    masked = paths[:3] + paths[3:4] * 2  # a mask, and a path given twice
    assert ours(client, masked, ["n"]) == library_get_all(client, masked, ["n"])
    assert ours(client, []) == {}


def test_errors_are_the_librarys_exceptions(scope: Scope) -> None:
    client = wiring.firestore_client()
    with pytest.raises(exceptions.GoogleAPICallError):
        wire.get_all(client, [f"{client._database_string}/documents/a-collection"])  # not a document
