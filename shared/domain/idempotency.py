"""Idempotency keys: a client's name for one request, so that sending it again (after a timeout,
say) returns the first answer instead of doing the work twice.

A key is 1-255 printable ASCII characters. What counts as "the same request" is its fingerprint:
the method, the path and the JSON body (key order and whitespace aside).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from shared import strict_json
from shared.errors import FieldProblem, InvalidArgumentError, InvalidJsonError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"  # printable ASCII, as HTTP header values travel safely
_KEY = re.compile(KEY_PATTERN)


def check_key(value: str) -> str:
    """The key as given, or a 400 saying what is wrong with it."""
    if not _KEY.fullmatch(value) or not value.strip():
        problem = f"must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
        raise InvalidArgumentError(f"invalid {HEADER} header", [FieldProblem(HEADER, problem)])
    return value


def key_id(key: str) -> str:
    """A document id for any key (a key may hold `/` or be `.`, which ids may not)."""
    return hashlib.sha256(key.encode()).hexdigest()


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Two requests with one fingerprint are the same request."""
    canonical: Any
    try:
        canonical = json.dumps(strict_json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (InvalidJsonError, ValueError):  # not JSON: the request fails anyway, and is the same only byte for byte
        canonical = body
    return hashlib.sha256(f"{method.upper()} {path.rstrip('/').lower()}\n".encode() + canonical).hexdigest()


class KeyState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class StoredResponse(BaseModel):
    status: int
    content_type: str | None = None
    body: bytes = b""


class KeyRecord(BaseModel):
    """A key as stored: whose request it named, and once done, the answer it got."""

    fingerprint: str
    state: KeyState
    created_at: datetime
    locked_until: datetime = Field(description="An IN_PROGRESS claim older than this was abandoned (a crash).")
    expires_at: datetime = Field(description="The key is forgotten after this (the Firestore TTL field).")
    response: StoredResponse | None = None
