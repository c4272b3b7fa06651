"""Replaying the first answer to a request sent again under the same Idempotency-Key.

The first request with a key claims it by creating its record (`create()` fails if it exists, so
of two concurrent requests exactly one does the work); the answer is stored on the record, and a
later request with the key and the same fingerprint gets that answer back. The other one waits for
it while the first is still working. A key is the tenant's and org's own (the store is scoped),
and forgotten after `ttl`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.domain.idempotency import HEADER, KeyRecord, KeyState, StoredResponse, key_id
from shared.errors import ConflictError, IdempotencyKeyReusedError, SynqError
from shared.services.ports import IdempotencyStore

log = logging.getLogger(__name__)


@dataclass
class Idempotency:
    store: IdempotencyStore
    clock: Callable[[], datetime]
    ttl: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=60)  # a request still working after this is taken to have died
    wait: float = 10.0  # seconds a repeat waits for the first request's answer
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)

    def run(self, key: str, fingerprint: str, act: Callable[[], StoredResponse]) -> tuple[StoredResponse, bool]:
        """The answer to the request, and whether it is a replay. `act` does the request's work
        (once per key); its answer is kept unless it is a 5xx, which a retry may well not get."""
        doc_id = key_id(key)
        deadline = self.monotonic() + self.wait
        while True:
            now = self.clock()
            claim = KeyRecord(
                fingerprint=fingerprint,
                state=KeyState.IN_PROGRESS,
                created_at=now,
                locked_until=now + self.lease,
                expires_at=now + self.ttl,
            )
            found = self.store.claim(doc_id, claim)
            if found is None:
                return self._act(doc_id, act), False
            record, version = found
            if record.expires_at <= now or (record.state is KeyState.IN_PROGRESS and record.locked_until <= now):
                # Expired (TTL deletion lags), or its request died: the key is free again.
                if self.store.take_over(doc_id, version, claim):
                    return self._act(doc_id, act), False
                continue
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReusedError(
                    f"this {HEADER} was already used with a different request; use a new key for a new request"
                )
            if record.state is KeyState.DONE and record.response is not None:
                return record.response, True
            if self.monotonic() >= deadline:
                raise ConflictError(f"a request with this {HEADER} is still in progress; retry it shortly")
            self.sleep(0.1)

    def _act(self, doc_id: str, act: Callable[[], StoredResponse]) -> StoredResponse:
        try:
            response = act()
        except BaseException:
            self._release(doc_id)
            raise
        if response.status >= 500 or response.status == 429:
            self._release(doc_id)
            return response
        try:
            self.store.complete(doc_id, response)
        except SynqError as exc:  # the work is done and answered; a repeat within the lease waits, then retries
            log.warning("idempotency key %s: answer not stored: %s", doc_id, exc.message)
        return response

    def _release(self, doc_id: str) -> None:
        try:
            self.store.release(doc_id)
        except SynqError as exc:
            log.warning("idempotency key %s: not released (the lease frees it): %s", doc_id, exc.message)
