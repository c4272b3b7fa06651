"""Firestore writes encoded straight into protobuf messages, and point reads decoded straight
from them.

The client library builds every write through proto-plus wrappers, which costs about 0.28 ms of
CPU per product document here; filling the protobuf messages directly costs about 0.04 ms, and a
bulk batch writes 500 documents (measurements in docs/benchmarks.md). `commit` sends them in one
Commit call over the client's own channel (the library would wrap the request and each result in
proto-plus again); `stage` puts them on an ordinary WriteBatch instead.

Reads by key (`get_all`) are the other hot path: evaluation reads several documents per product
of every batch. The library wraps each response in proto-plus and builds a snapshot that deep-
copies its data; here the same BatchGetDocuments call goes over the client's own channel and
each found document's fields are decoded by the library's own decoder, straight from protobuf.
Both retry as the library's calls do and raise the library's own exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import grpc
from google.api_core import exceptions, gapic_v1
from google.api_core import retry as retries
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.types import document, firestore, write
from proto.datetime_helpers import DatetimeWithNanoseconds  # what the library's snapshots carry

WritePb = write.Write.pb()
BatchGetRequestPb = firestore.BatchGetDocumentsRequest.pb()
BatchGetResponsePb = firestore.BatchGetDocumentsResponse.pb()
CommitRequestPb = firestore.CommitRequest.pb()
CommitResponsePb = firestore.CommitResponse.pb()
BATCH_GET = "/google.firestore.v1.Firestore/BatchGetDocuments"
COMMIT = "/google.firestore.v1.Firestore/Commit"
READ_TIMEOUT_SECONDS = 60.0
COMMIT_TIMEOUT_SECONDS = 60.0
# The library's own default retries of these two calls (google/cloud/firestore_v1/services/
# firestore/transports/base.py): a commit when the service is busy or unavailable, a read on
# any transient failure (reading is idempotent, so the whole read is retried).
COMMIT_RETRY = retries.Retry(
    initial=0.1,
    maximum=60.0,
    multiplier=1.3,
    predicate=retries.if_exception_type(exceptions.ResourceExhausted, exceptions.ServiceUnavailable),
    deadline=60.0,
)
READ_RETRY = retries.Retry(
    initial=0.1,
    maximum=60.0,
    multiplier=1.3,
    predicate=retries.if_exception_type(
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
        exceptions.ServiceUnavailable,
    ),
    deadline=300.0,
)


def _fill_str(target: Any, value: str) -> None:
    target.string_value = value


def _fill_int(target: Any, value: int) -> None:
    target.integer_value = value


def _fill_float(target: Any, value: float) -> None:
    target.double_value = value


def _fill_bool(target: Any, value: bool) -> None:
    target.boolean_value = value


def _fill_none(target: Any, value: None) -> None:
    target.null_value = 0


def _fill_dict(target: Any, value: dict[str, Any]) -> None:
    target.map_value.SetInParent()  # an empty map is still a map
    fields = target.map_value.fields
    for key, item in value.items():
        fill(fields[key], item)


# The commonest exact types first, without the chain of isinstance checks below (a product and
# its audit event are a few hundred values); subclasses (enums, datetimes) take the chain.
_FILL_EXACT: dict[type, Any] = {
    str: _fill_str,
    int: _fill_int,
    float: _fill_float,
    bool: _fill_bool,
    type(None): _fill_none,
    dict: _fill_dict,
}


def fill(target: Any, value: Any) -> None:
    """Encode a Python value into a firestore.v1.Value message."""
    exact = _FILL_EXACT.get(type(value))
    if exact is not None:
        exact(target, value)
    elif value is None:
        target.null_value = 0
    elif isinstance(value, bool):  # before int: bool is an int
        target.boolean_value = value
    elif isinstance(value, int):
        target.integer_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime: store timezone-aware UTC datetimes only")
        target.timestamp_value.FromDatetime(value)
    elif isinstance(value, Mapping):
        target.map_value.SetInParent()  # an empty map is still a map
        for key, item in value.items():
            fill(target.map_value.fields[key], item)
    elif isinstance(value, list | tuple):
        target.array_value.SetInParent()
        for item in value:
            fill(target.array_value.values.add(), item)
    elif isinstance(value, bytes):
        target.bytes_value = value
    else:
        raise TypeError(f"cannot store a {type(value).__name__} in Firestore")


def _document(pb: Any, path: str, data: Mapping[str, Any]) -> None:
    pb.update.name = path
    for key, value in data.items():
        fill(pb.update.fields[key], value)


def _fields_only(pb: Any, path: str, data: Mapping[str, Any]) -> None:
    """A document write that sets the given top-level fields and leaves the others alone."""
    _document(pb, path, data)
    pb.update_mask.field_paths.extend(FieldPath(key).to_api_repr() for key in data)


def _expect_version(pb: Any, version: Any) -> None:
    """Precondition: the document still has the update time we read (it has not moved)."""
    pb.current_document.update_time.CopyFrom(
        version.timestamp_pb() if hasattr(version, "timestamp_pb") else _timestamp(version)
    )


def _timestamp(value: datetime) -> Any:
    from google.protobuf import timestamp_pb2

    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def create(path: str, data: Mapping[str, Any]) -> Any:
    """Create a document; the write fails if it exists."""
    pb = WritePb()
    _document(pb, path, data)
    pb.current_document.exists = False
    return pb


def update(path: str, data: Mapping[str, Any], version: Any = None, increments: Mapping[str, int] | None = None) -> Any:
    """Set the given top-level fields (others untouched), optionally adding to counters server-side.
    Fails if the document does not exist, or moved since `version` when one is given."""
    pb = WritePb()
    _fields_only(pb, path, data)
    for field, amount in (increments or {}).items():
        transform = pb.update_transforms.add()
        transform.field_path = FieldPath(field).to_api_repr()
        transform.increment.integer_value = amount
    if version is not None:
        _expect_version(pb, version)
    else:
        pb.current_document.exists = True
    return pb


def put(path: str, data: Mapping[str, Any], version: Any = None) -> Any:
    """Create or replace a whole document, whatever its state (or, given `version`, only if it
    has not moved since)."""
    pb = WritePb()
    _document(pb, path, data)
    if version is not None:
        _expect_version(pb, version)
    return pb


def merge_array(path: str, data: Mapping[str, Any], field: str, add: list[Any], remove: list[Any]) -> Any:
    """Create or update a document: set `data`, then add the missing `add` values to the array
    `field` and take the `remove` values out of it, server-side (no read, no lock)."""
    pb = WritePb()
    _fields_only(pb, path, data)
    for values, kind in ((add, "append_missing_elements"), (remove, "remove_all_from_array")):
        if values:
            transform = pb.update_transforms.add()
            transform.field_path = FieldPath(field).to_api_repr()
            target = getattr(transform, kind)
            for value in values:
                fill(target.values.add(), value)
    return pb


def increment(path: str, amounts: Mapping[tuple[str, ...], int]) -> Any:
    """Create or update a document, adding each amount to the counter at its field path (nested
    maps), server-side: no read, no precondition, and concurrent increments all count."""
    pb = WritePb()
    pb.update.name = path
    pb.update_mask.SetInParent()  # an empty mask: no field is set, only the transforms apply
    for field_path, amount in sorted(amounts.items()):
        transform = pb.update_transforms.add()
        transform.field_path = FieldPath(*field_path).to_api_repr()
        transform.increment.integer_value = amount
    return pb


def delete(path: str, version: Any = None) -> Any:
    pb = WritePb()
    pb.delete = path
    if version is not None:
        _expect_version(pb, version)
    return pb


def stage(batch: Any, pbs: list[Any]) -> None:
    """Add encoded writes to a WriteBatch (the library's own entry point for write messages)."""
    batch._add_write_pbs(pbs)


@dataclass(frozen=True)
class Found:
    """A document read by key: its id, its fields as the library decodes them, its version."""

    id: str
    data: dict[str, Any]
    update_time: DatetimeWithNanoseconds


@cache
def _batch_get(channel: grpc.Channel) -> Any:
    return channel.unary_stream(
        BATCH_GET,
        request_serializer=BatchGetRequestPb.SerializeToString,
        response_deserializer=BatchGetResponsePb.FromString,
    )


@cache
def _commit(channel: grpc.Channel) -> Any:
    return channel.unary_unary(
        COMMIT, request_serializer=CommitRequestPb.SerializeToString, response_deserializer=CommitResponsePb.FromString
    )


def _metadata(client: Any) -> list[tuple[str, str]]:
    """What the library sends with each call: the database, and the emulator's credentials."""
    routing = gapic_v1.routing_header.to_grpc_metadata((("database", client._database_string),))
    return [*client._rpc_metadata, routing]


def commit(client: Any, pbs: list[Any]) -> list[DatetimeWithNanoseconds | None]:
    """Commit encoded writes atomically, as `WriteBatch.commit` does, without building the
    request and its results through proto-plus; returns each write's update time (None for a
    delete of nothing), in order. Errors and retries are the library's."""
    request = CommitRequestPb(database=client._database_string)
    request.writes.extend(pbs)
    call = _commit(client._firestore_api._transport.grpc_channel)

    def send() -> Any:
        try:
            return call(request, timeout=COMMIT_TIMEOUT_SECONDS, metadata=_metadata(client))
        except grpc.RpcError as exc:
            raise exceptions.from_grpc_error(exc) from exc

    response = COMMIT_RETRY(send)()
    return [
        DatetimeWithNanoseconds.from_timestamp_pb(r.update_time) if r.HasField("update_time") else None
        for r in response.write_results
    ]


def get_all(client: Any, paths: list[str], field_paths: list[str] | None = None) -> list[Found]:
    """The documents that exist among `paths` (full resource names), in one BatchGetDocuments
    call; `field_paths` limits the fields returned, as in the library's `get_all`. Errors are the
    library's exceptions (google.api_core), as its own calls raise them, after its retries."""
    if not paths:
        return []
    request = BatchGetRequestPb(database=client._database_string, documents=list(dict.fromkeys(paths)))
    if field_paths is not None:
        request.mask.field_paths.extend(field_paths)
    call = _batch_get(client._firestore_api._transport.grpc_channel)

    def read() -> list[Found]:
        found = []
        try:
            for response in call(request, timeout=READ_TIMEOUT_SECONDS, metadata=_metadata(client)):
                if response.WhichOneof("result") == "found":
                    doc = response.found
                    found.append(
                        Found(
                            doc.name.rpartition("/")[2],
                            _helpers.decode_dict(doc.fields, client),
                            DatetimeWithNanoseconds.from_timestamp_pb(doc.update_time),
                        )
                    )
        except grpc.RpcError as exc:
            raise exceptions.from_grpc_error(exc) from exc
        return found

    result: list[Found] = READ_RETRY(read)()
    return result


__all__ = ["Found", "commit", "create", "delete", "document", "fill", "get_all", "increment", "stage", "update"]
