"""The direct calls (`wire.get_all`, `wire.commit`) do exactly what the Firestore client
library's `get_all` and `WriteBatch.commit` do: the same documents, the same decoded values, the
same versions, the same exceptions."""

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


def test_a_commit_writes_and_answers_as_the_librarys_commit(scope: Scope) -> None:
    client = wiring.firestore_client()
    root = TenantRoot(client, scope)
    data = {"title": "Lamp", "n": 1, "at": datetime(2026, 11, 29, tzinfo=UTC), "attributes": {"a": [1, "b"]}}

    def writes(prefix: str) -> list[Any]:
        return [
            wire.create(root.path("things", f"{prefix}-new"), data),
            wire.put(root.path("things", f"{prefix}-put"), data),
            wire.merge_array(root.path("things", f"{prefix}-merged"), {"sku": "X"}, "holders", ["a", "b"], []),
            wire.delete(root.path("things", f"{prefix}-never-was")),
        ]

    batch = client.batch()
    wire.stage(batch, writes("theirs"))
    theirs = [r.update_time for r in batch.commit()]
    mine = wire.commit(client, writes("ours"))

    assert [type(t) for t in mine] == [type(t) for t in theirs]
    assert [t is None for t in mine] == [t is None for t in theirs] == [False, False, False, True]
    stored = {
        d.id: (d.data, d.update_time)
        for d in wire.get_all(client, [root.path("things", f"ours-{n}") for n in ("new", "put", "merged")])
    }
    assert {k: v[0] for k, v in stored.items()} == {
        "ours-new": data,
        "ours-put": data,
        "ours-merged": {"sku": "X", "holders": ["a", "b"]},
    }
    assert [stored[f"ours-{n}"][1] for n in ("new", "put", "merged")] == mine[:3]

    with pytest.raises(exceptions.AlreadyExists):  # as the library raises it: nothing applied
        wire.commit(client, [wire.put(root.path("things", "ours-other"), data), writes("ours")[0]])
    assert wire.get_all(client, [root.path("things", "ours-other")]) == []
    batch = client.batch()
    wire.stage(batch, [writes("theirs")[0]])
    with pytest.raises(exceptions.AlreadyExists):
        batch.commit()
