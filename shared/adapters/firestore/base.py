"""What the Firestore stores share: the tenant's root, atomic writes with their audit events,
and newest-first cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

from google.cloud import firestore

from shared.adapters.firestore import wire
from shared.adapters.firestore.queries import NEWEST_FIRST, IndexedQuery
from shared.adapters.google_errors import translated
from shared.domain.audit import AuditEvent
from shared.domain.catalog import Collection, Write
from shared.domain.models import Page
from shared.domain.tenancy import Scope
from shared.errors import FieldProblem, InvalidArgumentError, StoreRefusedError

AUDIT_EVENTS = "audit_events"
T = TypeVar("T")


class TenantRoot:
    """The document every collection of one tenant's org hangs from."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self.client = client
        self.doc = client.collection("tenants").document(scope.tenant_id).collection("orgs").document(scope.org_id)
        self._documents = f"{client._database_string}/documents/{self.doc.path}"

    def collection(self, name: Collection | str) -> Any:
        return self.doc.collection(str(name))

    def path(self, collection: Collection | str, doc_id: str) -> str:
        """The document's full resource name, as write messages carry it."""
        return f"{self._documents}/{collection}/{doc_id}"

    def encode(self, writes: list[Write], events: list[AuditEvent]) -> list[Any]:
        """Write messages for the changes and their audit events (staged by the caller).
        StoreRefusedError if a value cannot be encoded at all."""
        pbs = []
        try:
            for w in writes:
                path = self.path(w.collection, w.doc_id)
                if w.kind == "create":
                    pbs.append(wire.create(path, w.data))
                elif w.kind == "update":
                    pbs.append(wire.update(path, w.data, w.version))
                else:
                    pbs.append(wire.delete(path, w.version))
            # create(): an event is never overwritten, and a replayed write cannot add it twice.
            pbs += [wire.create(self.path(AUDIT_EVENTS, e.id), e.model_dump(mode="python")) for e in events]
        except ValueError as exc:  # an integer beyond 64 bits, an unpaired surrogate, ...
            raise StoreRefusedError("write", str(exc)) from exc
        return pbs


def in_id_order(collection: Any, after: str | None = None, query: Any = None, fields: list[str] | None = None) -> Any:
    """Documents in id order from just after `after`, streamed by one query (a query per page
    would make the emulator scan the collection once per page)."""
    query = (query or collection).order_by("__name__")
    if after:
        query = query.start_after({"__name__": collection.document(after)})
    if fields:
        query = query.select(fields)
    with translated("catalog"):
        yield from query.stream()


def prefetched(items: Iterator[T], batch: int = 200, depth: int = 4) -> Iterator[T]:
    """`items`, read ahead by a background thread (at most `depth` batches of `batch`), so that
    reading (network waits, decoding) overlaps with what the caller does with each item. An
    error while reading is raised to the caller; a caller that stops early stops the thread."""
    chunks: queue.Queue[list[T] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(chunk: list[T] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                chunks.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        chunk: list[T] = []
        try:
            for item in items:
                chunk.append(item)
                if len(chunk) == batch:
                    if not offer(chunk):
                        return
                    chunk = []
            end: BaseException | None = None
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            end = exc
        if not chunk or offer(chunk):
            offer(end)

    threading.Thread(target=pump, daemon=True, name="prefetch").start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        stop.set()


def newest_first(
    declared: IndexedQuery, source: Any, limit: int, cursor: str | None, equals: Mapping[str, Any] | None = None
) -> list[Any]:
    """Up to `limit + 1` documents of a query ordered newest first, so the caller knows whether
    more follow."""
    if declared.order != NEWEST_FIRST:
        raise ValueError(f"{declared.collection_group}: not a newest-first query")
    query = declared.build(source, equals or {})
    if cursor:
        created_at, doc_id = decode_cursor(cursor, TIME, TEXT)
        query = query.start_after({"created_at": created_at, "id": doc_id})
    return list(query.limit(limit + 1).stream())


def newest_first_page(model: Any, docs: list[Any], limit: int) -> Page[Any]:
    items = [model.model_validate(d.to_dict()) for d in docs[:limit]]
    more = len(docs) > limit
    return Page[Any](
        items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(), items[-1].id]) if more else None
    )


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: Callable[[Any], Any]) -> list[Any]:
    """The values of a cursor this API issued, one per kind (TIME, TEXT, INDEX). A cursor is the
    client's to send back, so anything else in it is refused here rather than by Firestore."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return [kind(value) for kind, value in zip(kinds, values, strict=True)]
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid_cursor() from exc


def TIME(value: Any) -> datetime:  # noqa: N802 - a cursor value kind, named like a constant
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("not a time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("not a UTC time")
    return parsed


def TEXT(value: Any) -> str:  # noqa: N802
    if not isinstance(value, str) or not value or len(value.encode()) > 1500:  # also refuses lone surrogates
        raise ValueError("not an id or a name")
    return value


def INDEX(value: Any) -> int:  # noqa: N802
    if type(value) is not int or not -1 <= value < 2**31:
        raise ValueError("not a position")
    return value


def invalid_cursor() -> InvalidArgumentError:
    return InvalidArgumentError("invalid cursor", [FieldProblem("cursor", "not a cursor of this list")])
