"""What a record takes in Firestore, by the store's documented size rules, so that a change too
large to store is refused with a clear message before anything is written.

A string takes its UTF-8 bytes plus one, a number, timestamp or date eight, a boolean or null one,
a map the sizes of its keys (as strings) and values, an array the sizes of its elements, and a
document those of its field names and values plus its name and 32 bytes. The Firestore emulator
applies the same rules, to the byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

MAX_DOCUMENT_BYTES = 1_048_576
# A document's name counts too: ours are a handful of UUIDs and collection names (about 150
# bytes); this allowance is comfortably more.
NAME_ALLOWANCE = 512
DOCUMENT_OVERHEAD = 32


def value_size(value: Any) -> int:
    # Exact types first: this runs over every product a batch writes.
    kind = type(value)
    if kind is str:
        return _text_size(value)
    if kind is dict:
        total = 0
        for key, item in value.items():
            total += _text_size(str(key)) + value_size(item)
        return total
    if kind is list:
        return sum(value_size(v) for v in value)
    if value is None or kind is bool:
        return 1
    if kind is int or kind is float:
        return 8
    return _other_size(value)


def _text_size(text: str) -> int:
    return (len(text) if text.isascii() else len(text.encode(errors="surrogatepass"))) + 1


def _other_size(value: Any) -> int:
    if isinstance(value, str):  # enums and other str subclasses
        return _text_size(value)
    if isinstance(value, int | float | date):  # int and float subclasses (IntEnum), datetimes
        return 8
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_text_size(str(k)) + value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(value_size(v) for v in value)
    return _text_size(str(value))  # decimals and the like are stored as text


def document_size(data: Mapping[str, Any]) -> int:
    """The stored size of a document holding `data`, its name estimated generously."""
    return NAME_ALLOWANCE + value_size(data) + DOCUMENT_OVERHEAD


def largest(data: Mapping[str, Any], fields: Iterable[str], default: str = "body") -> str:
    """The field among `fields` that takes the most room in `data`: the one to name when a
    record is too large."""
    return max(fields, key=lambda f: value_size(data.get(f)), default=default)


# --- what one commit may carry ---------------------------------------------------------------
# Firestore takes at most 500 writes and a request of at most 10 MiB in one commit; the emulator
# refuses any gRPC message over 4 MiB. Requests are estimated from the stored sizes above
# (protobuf adds a few bytes a value), so the estimate is held to 3 MiB, of which 512 KiB are
# kept for a batch's markers (its failures) and counters. Only batches of large documents reach
# it: 124 realistic products with their events take about 0.3 MiB.
MAX_COMMIT_WRITES = 500
MAX_COMMIT_BYTES = 10 * 1024 * 1024
EMULATOR_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
COMMIT_BYTES_BUDGET = 3 * 1024 * 1024
COMMIT_BYTES_RESERVE = 512 * 1024


def fields_change_size(changes: Mapping[str, Any]) -> int:
    """What an audit event's field changes take: each name with its value before and after."""
    total = 0
    for name, change in changes.items():
        total += _text_size(name) + value_size(change.before) + value_size(change.after)
    return total
