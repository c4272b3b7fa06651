"""Idempotency keys in Firestore, one document per key under the tenant's org; `expires_at` is
the field of the collection's TTL policy (infra/deploy.sh), so keys are deleted a while after
they expire. A stored answer is compressed, and split over part documents when it is larger than
one document may be (a bulk job's answer carries its whole payload)."""

from __future__ import annotations

import zlib
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore.base import TenantRoot
from shared.adapters.google_errors import translated
from shared.domain.idempotency import KeyRecord, KeyState, StoredResponse
from shared.domain.tenancy import Scope
from shared.errors import ConflictError

KEYS = "idempotency_keys"
PARTS = "idempotency_key_parts"
PART_BYTES = 900_000  # under the 1 MiB document limit with room for the other fields
PARTS_PER_COMMIT = 8  # well under 10 MiB per commit
RESPONSE_FIELDS = ("response_status", "response_content_type", "response_parts", "response_body")


class FirestoreIdempotencyStore:
    """Implements IdempotencyStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._client = client
        self._keys = TenantRoot(client, scope).collection(KEYS)

    def claim(self, key_id: str, record: KeyRecord) -> tuple[KeyRecord, Any] | None:
        ref = self._keys.document(key_id)
        try:
            with translated("idempotency key"):
                ref.create(_fields(record))
            return None
        except ConflictError:
            pass
        return self._found(ref, record)

    def _found(self, ref: Any, record: KeyRecord) -> tuple[KeyRecord, Any]:
        """The record that kept `record` from being created, with its version."""
        with translated("idempotency key"):
            snap = ref.get()
        if not snap.exists:  # released meanwhile: a version no document has makes the take-over a create
            return record.model_copy(update={"expires_at": record.created_at}), None
        return self._record(ref, snap.to_dict()), snap.update_time

    def take_over(self, key_id: str, version: Any, record: KeyRecord) -> bool:
        ref = self._keys.document(key_id)
        fields = {**_fields(record), **dict.fromkeys(RESPONSE_FIELDS, firestore.DELETE_FIELD)}
        try:
            with translated("idempotency key"):
                if version is None:
                    ref.create(_fields(record))
                else:
                    ref.update(fields, option=self._client.write_option(last_update_time=version))
        except ConflictError:
            return False
        return True

    def complete(self, key_id: str, response: StoredResponse) -> None:
        ref = self._keys.document(key_id)
        with translated("idempotency key"):
            expires_at = ref.get(["expires_at"]).get("expires_at")
        packed = zlib.compress(response.body)
        chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)] or [b""]
        rest = list(enumerate(chunks[1:], start=1))
        for start in range(0, len(rest), PARTS_PER_COMMIT):
            batch = self._client.batch()
            for n, chunk in rest[start : start + PARTS_PER_COMMIT]:
                batch.set(ref.collection(PARTS).document(f"{n:05d}"), {"data": chunk, "expires_at": expires_at})
            with translated("idempotency key"):
                batch.commit()
        with translated("idempotency key"):
            ref.update(
                {
                    "state": KeyState.DONE.value,
                    "response_status": response.status,
                    "response_content_type": response.content_type,
                    "response_parts": len(chunks),
                    "response_body": chunks[0],
                }
            )

    def release(self, key_id: str) -> None:
        with translated("idempotency key"):
            self._keys.document(key_id).delete()

    def _record(self, ref: Any, data: dict[str, Any]) -> KeyRecord:
        response = None
        if data.get("state") == KeyState.DONE.value and "response_status" in data:
            packed = bytes(data["response_body"])
            if data["response_parts"] > 1:
                refs = [ref.collection(PARTS).document(f"{n:05d}") for n in range(1, data["response_parts"])]
                with translated("idempotency key"):
                    parts = {snap.id: snap.get("data") for snap in self._client.get_all(refs)}
                packed += b"".join(bytes(parts[r.id]) for r in refs)
            response = StoredResponse(
                status=data["response_status"],
                content_type=data["response_content_type"],
                body=zlib.decompress(packed),
            )
        return KeyRecord.model_validate({**data, "response": response})


def _fields(record: KeyRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"response"})
