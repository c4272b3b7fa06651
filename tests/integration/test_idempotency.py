"""Idempotency-Key on POST /bulk-jobs and POST /exports, against the emulators: a repeat gets the
first answer and creates nothing, a key reused for another request is a 422, two requests racing
with one key (met at a barrier) create one job, and each tenant's keys are its own."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import wiring
from shared.adapters.firestore.base import TenantRoot
from shared.adapters.firestore.idempotency import FirestoreIdempotencyStore
from shared.domain.idempotency import KeyRecord, KeyState, StoredResponse, key_id
from shared.domain.tenancy import Scope
from shared.errors import ConflictError, IdempotencyKeyReusedError, UnavailableError
from shared.services.idempotency import Idempotency
from tests.integration.conftest import B
from tests.support import concurrently, headers, new_scope

IMPORT = {"job_type": "BULK_IMPORT", "payload": [{"title": "Once only", "sku": "ONCE-1"}]}


def post(client: Any, auth: dict[str, str], path: str, body: Any, key: str | None) -> Any:
    hdrs = {**auth, "Content-Type": "application/json", **({"Idempotency-Key": key} if key is not None else {})}
    return client.post(f"{B}/{path}", data=json.dumps(body) if body is not None else None, headers=hdrs)


def jobs_of(client: Any, auth: dict[str, str]) -> list[str]:
    resp = client.get(f"{B}/bulk-jobs", query_string={"type": "BULK_IMPORT"}, headers=auth)
    return [j["id"] for j in resp.get_json()["items"]]


def test_a_repeated_job_request_gets_the_first_answer_and_creates_nothing(client: Any, auth: dict[str, str]) -> None:
    first = post(client, auth, "bulk-jobs", IMPORT, "import-2026-11-30")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    # The same request, its JSON written differently (key order, spacing).
    same = json.loads(json.dumps(IMPORT))
    hdrs = {**auth, "Content-Type": "application/json", "Idempotency-Key": "import-2026-11-30"}
    again = client.post(f"{B}/bulk-jobs", data=json.dumps(dict(reversed(same.items())), indent=2), headers=hdrs)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()  # the first answer, byte for byte (status PENDING)
    assert jobs_of(client, auth) == [first.get_json()["id"]]


def test_a_repeated_export_request_gets_the_first_answer(client: Any, auth: dict[str, str]) -> None:
    first = post(client, auth, "exports", {"format": "CSV"}, "export-1")
    again = post(client, auth, "exports", {"format": "CSV"}, "export-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    listed = client.get(f"{B}/exports", headers=auth).get_json()["items"]
    assert [e["id"] for e in listed] == [first.get_json()["id"]]
    # Without a key, each request is its own.
    assert post(client, auth, "exports", {"format": "CSV"}, None).get_json()["id"] != first.get_json()["id"]


def test_a_key_reused_for_a_different_request_is_refused(client: Any, auth: dict[str, str]) -> None:
    first = post(client, auth, "bulk-jobs", IMPORT, "k-1")
    other = {**IMPORT, "payload": [{"title": "Something else"}]}
    reused = post(client, auth, "bulk-jobs", other, "k-1")
    assert reused.status_code == 422, reused.get_json()
    assert reused.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "different request" in reused.get_json()["error"]
    # Another route counts as another request too.
    assert post(client, auth, "exports", None, "k-1").status_code == 422
    assert jobs_of(client, auth) == [first.get_json()["id"]]


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there", "naïve"])
def test_a_malformed_key_is_a_400_and_creates_nothing(client: Any, auth: dict[str, str], key: str) -> None:
    resp = post(client, auth, "bulk-jobs", IMPORT, key)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["details"][0]["field"] == "Idempotency-Key"
    assert jobs_of(client, auth) == []


def test_the_longest_key_is_accepted(client: Any, auth: dict[str, str]) -> None:
    key = "~" * 255
    assert post(client, auth, "bulk-jobs", IMPORT, key).status_code == 200
    assert post(client, auth, "bulk-jobs", IMPORT, key).headers["Idempotent-Replayed"] == "true"


def test_another_tenants_key_is_its_own(client: Any, keys: tuple[Path, Path], auth: dict[str, str]) -> None:
    mine = post(client, auth, "bulk-jobs", IMPORT, "shared-name")
    theirs_auth = headers(keys[0], new_scope())
    theirs = post(client, theirs_auth, "bulk-jobs", IMPORT, "shared-name")
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert jobs_of(client, theirs_auth) == [theirs.get_json()["id"]]
    assert jobs_of(client, auth) == [mine.get_json()["id"]]


class MeetsAtClaim(FirestoreIdempotencyStore):
    """Requests that have each read their body and fingerprinted it before either claims the key."""

    def __init__(self, client: Any, scope: Scope, barrier: threading.Barrier) -> None:
        super().__init__(client, scope)
        self.barrier = barrier
        self.claims = 0

    def claim(self, key_id: str, record: KeyRecord) -> tuple[KeyRecord, Any] | None:
        self.claims += 1
        if self.claims <= 2:  # the two first claims; the loser's later look-ups go on alone
            self.barrier.wait(timeout=30)
        return super().claim(key_id, record)


def test_two_requests_at_once_with_one_key_create_one_job(
    client: Any, auth: dict[str, str], scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MeetsAtClaim(wiring.firestore_client(), scope, threading.Barrier(2))
    monkeypatch.setattr(wiring, "idempotency", lambda scope: Idempotency(store, wiring.utc_now))
    first, second = concurrently(
        lambda: post(client, auth, "bulk-jobs", IMPORT, "racing"),
        lambda: post(client, auth, "bulk-jobs", IMPORT, "racing"),
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_data() == second.get_data()
    assert sorted(r.headers.get("Idempotent-Replayed", "-") for r in (first, second)) == ["-", "true"]
    assert jobs_of(client, auth) == [first.get_json()["id"]]


# --- the mechanism on its own: answers kept, released, expired, abandoned --------------------------
class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def keys_of(scope: Scope, clock: Clock) -> Idempotency:
    return Idempotency(FirestoreIdempotencyStore(wiring.firestore_client(), scope), clock, sleep=lambda _: None)


def answering(status: int, body: bytes = b"{}", calls: list[int] | None = None) -> Any:
    def act() -> StoredResponse:
        if calls is not None:
            calls.append(status)
        return StoredResponse(status=status, content_type="application/json", body=body)

    return act


def test_an_answer_larger_than_a_document_is_kept_whole(keys_of: Idempotency) -> None:
    body = os.urandom(2_500_000)  # does not compress: three parts
    assert keys_of.run("big", "fp", answering(200, body))[0].body == body
    replayed, was_replayed = keys_of.run("big", "fp", answering(500))
    assert was_replayed and replayed.body == body


def test_an_answer_of_one_or_two_parts_is_kept_whole(keys_of: Idempotency) -> None:
    for key, body in (("small", b'{"id": 1}'), ("two", os.urandom(1_000_000))):  # does not compress: two parts
        keys_of.run(key, "fp", answering(201, body))
        assert keys_of.run(key, "fp", answering(500)) == (
            StoredResponse(status=201, content_type="application/json", body=body),
            True,
        )


def ttl_policy() -> tuple[set[str], str]:
    """The collection groups infra/deploy.sh gives a TTL policy, and the field it deletes by."""
    deploy = (Path(__file__).resolve().parents[2] / "infra" / "deploy.sh").read_text()
    groups, field = re.search(r"for group in ([\w ]+); do", deploy), re.search(r"ttls update (\w+)", deploy)
    assert groups and field
    return set(groups[1].split()), field[1]


def test_a_key_and_each_part_of_its_answer_carry_the_expiry_the_ttl_policy_deletes_them_by(
    scope: Scope, keys_of: Idempotency, clock: Clock
) -> None:
    assert ttl_policy() == ({"idempotency_keys", "idempotency_key_parts"}, "expires_at")
    keys_of.run("big", "fp", answering(200, os.urandom(2_500_000)))  # three parts
    key = TenantRoot(wiring.firestore_client(), scope).collection("idempotency_keys").document(key_id("big")).get()
    parts = list(key.reference.collection("idempotency_key_parts").stream())
    expiry = clock.now + keys_of.ttl
    assert key.get("expires_at") == expiry
    assert [p.id for p in parts] == ["00001", "00002"] and [p.get("expires_at") for p in parts] == [expiry] * 2


def test_a_key_taken_over_keeps_nothing_of_the_answer_it_had(scope: Scope, keys_of: Idempotency, clock: Clock) -> None:
    keys_of.run("k", "fp", answering(200, b"first"))
    clock.now += keys_of.ttl  # expired: the key is free again
    now = clock()
    claim = KeyRecord(
        fingerprint="fp2", state=KeyState.IN_PROGRESS, created_at=now, locked_until=now + keys_of.lease, expires_at=now
    )
    found = keys_of.store.claim(key_id("k"), claim)
    assert found is not None and keys_of.store.take_over(key_id("k"), found[1], claim)
    ref = TenantRoot(wiring.firestore_client(), scope).collection("idempotency_keys").document(key_id("k"))
    stored = ref.get().to_dict() or {}
    assert stored["state"] == "IN_PROGRESS"
    assert set(stored) == {"fingerprint", "state", "created_at", "locked_until", "expires_at"}  # no answer


def test_a_server_error_is_not_kept_so_a_retry_runs_again(keys_of: Idempotency) -> None:
    calls: list[int] = []
    assert keys_of.run("k", "fp", answering(503, calls=calls))[0].status == 503
    assert keys_of.run("k", "fp", answering(200, calls=calls))[1] is False
    assert keys_of.run("k", "fp", answering(201, calls=calls))[1] is True
    assert calls == [503, 200]


def test_a_request_that_raised_frees_its_key(keys_of: Idempotency) -> None:
    def boom() -> StoredResponse:
        raise RuntimeError("crashed")

    with pytest.raises(RuntimeError):
        keys_of.run("k", "fp", boom)
    assert keys_of.run("k", "fp", answering(200))[1] is False


def test_a_key_is_forgotten_after_a_day(keys_of: Idempotency, clock: Clock) -> None:
    calls: list[int] = []
    keys_of.run("k", "fp", answering(200, calls=calls))
    clock.now += timedelta(hours=23, minutes=59)
    with pytest.raises(IdempotencyKeyReusedError):
        keys_of.run("k", "other", answering(200, calls=calls))
    clock.now += timedelta(minutes=2)  # expired (the TTL policy deletes it some time later)
    assert keys_of.run("k", "other", answering(201, calls=calls)) == (
        StoredResponse(status=201, content_type="application/json", body=b"{}"),
        False,
    )
    assert calls == [200, 201]


def working(keys_of: Idempotency, clock: Clock, key: str) -> None:
    """A first request with `key` that claimed it and is still working (or died working)."""
    now = clock()
    record = KeyRecord(
        fingerprint="fp",
        state=KeyState.IN_PROGRESS,
        created_at=now,
        locked_until=now + keys_of.lease,
        expires_at=now + keys_of.ttl,
    )
    assert keys_of.store.claim(key_id(key), record) is None


def test_a_repeat_while_the_first_is_working_is_told_to_retry(keys_of: Idempotency, clock: Clock) -> None:
    working(keys_of, clock, "k")
    keys_of.wait = 0.5
    calls: list[int] = []
    with pytest.raises(ConflictError, match="still in progress"):
        keys_of.run("k", "fp", answering(200, calls=calls))
    assert calls == []


def test_a_key_whose_first_request_died_is_taken_over_after_its_lease(keys_of: Idempotency, clock: Clock) -> None:
    working(keys_of, clock, "k")
    clock.now += keys_of.lease + timedelta(seconds=1)
    calls: list[int] = []
    assert keys_of.run("k", "fp", answering(200, calls=calls))[1] is False
    assert keys_of.run("k", "fp", answering(200, calls=calls))[1] is True
    assert calls == [200]


def test_a_500_and_a_429_are_not_kept_and_other_answers_are(keys_of: Idempotency) -> None:
    calls: list[int] = []
    for status in (500, 429):
        assert keys_of.run(f"k{status}", "fp", answering(status, calls=calls))[1] is False
        assert keys_of.run(f"k{status}", "fp", answering(200, calls=calls)) == (
            StoredResponse(status=200, content_type="application/json", body=b"{}"),
            False,
        )
    assert keys_of.run("k409", "fp", answering(409, calls=calls))[0].status == 409
    assert keys_of.run("k409", "fp", answering(200, calls=calls))[0].status == 409
    assert calls == [500, 200, 429, 200, 409]


def test_a_key_is_free_again_at_the_very_instant_its_day_or_its_lease_ends(keys_of: Idempotency, clock: Clock) -> None:
    started = clock.now
    working(keys_of, clock, "died")
    keys_of.run("done", "fp", answering(200))
    clock.now = started + timedelta(seconds=60)  # the lease a request holds its key for
    assert keys_of.run("died", "fp", answering(200))[1] is False
    clock.now = started + timedelta(hours=24)  # the day a key's first answer is kept
    assert keys_of.run("done", "other", answering(201)) == (
        StoredResponse(status=201, content_type="application/json", body=b"{}"),
        False,
    )


def test_a_refused_repeat_says_why_and_what_to_do(keys_of: Idempotency, clock: Clock) -> None:
    keys_of.run("done", "fp", answering(200))
    with pytest.raises(IdempotencyKeyReusedError) as reused:
        keys_of.run("done", "other", answering(200))
    assert reused.value.message == (
        "this Idempotency-Key was already used with a different request; use a new key for a new request"
    )
    working(keys_of, clock, "busy")
    keys_of.wait = 0.0
    with pytest.raises(ConflictError) as busy:
        keys_of.run("busy", "fp", answering(200))
    assert busy.value.message == "a request with this Idempotency-Key is still in progress; retry it shortly"


def test_a_repeat_looks_again_every_tenth_of_a_second_for_ten_seconds_then_is_told_to_retry(
    scope: Scope, clock: Clock
) -> None:
    """The repeat's timing, on a clock the test moves: the default wait, the pause between looks,
    and the 409 at the very instant the wait ends."""
    pauses: list[float] = []
    readings = iter([100.0, 105.0, 109.9, 110.0])  # when the wait starts, then at each look
    keys = Idempotency(
        FirestoreIdempotencyStore(wiring.firestore_client(), scope),
        clock,
        sleep=pauses.append,
        monotonic=lambda: next(readings),
    )
    working(keys, clock, "busy")
    with pytest.raises(ConflictError, match="still in progress"):
        keys.run("busy", "fp", answering(200))
    assert pauses == [0.1, 0.1]


class LosesTheTakeover(FirestoreIdempotencyStore):
    """Another request takes the abandoned key over, and answers, between this one's look and its
    own takeover."""

    def __init__(self, client: Any, scope: Scope, clock: Clock) -> None:
        super().__init__(client, scope)
        self.clock, self.lost = clock, 0

    def take_over(self, key_id: str, version: Any, record: KeyRecord) -> bool:
        if not self.lost:
            self.lost += 1
            other = record.model_copy(update={"created_at": self.clock()})
            assert super().take_over(key_id, version, other)
            self.complete(key_id, StoredResponse(status=201, content_type="application/json", body=b"other"))
        return super().take_over(key_id, version, record)


def test_a_request_that_loses_the_takeover_of_an_abandoned_key_replays_the_winners_answer(
    scope: Scope, clock: Clock
) -> None:
    store = LosesTheTakeover(wiring.firestore_client(), scope, clock)
    keys = Idempotency(store, clock, sleep=lambda _: None)
    working(keys, clock, "died")
    clock.now += keys.lease
    calls: list[int] = []
    assert keys.run("died", "fp", answering(200, calls=calls)) == (
        StoredResponse(status=201, content_type="application/json", body=b"other"),
        True,
    )
    assert store.lost == 1 and calls == []


class CannotStoreAnswers(FirestoreIdempotencyStore):
    def complete(self, key_id: str, response: StoredResponse) -> None:
        raise UnavailableError("idempotency key: storage temporarily unavailable")


def test_an_answer_that_cannot_be_stored_is_answered_all_the_same_and_logged(
    scope: Scope, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keys = Idempotency(CannotStoreAnswers(wiring.firestore_client(), scope), clock, sleep=lambda _: None)
    with caplog.at_level(logging.WARNING, logger="shared.services.idempotency"):
        answer = keys.run("k", "fp", answering(201))
    assert answer == (StoredResponse(status=201, content_type="application/json", body=b"{}"), False)
    assert [r.getMessage() for r in caplog.records] == [
        f"idempotency key {key_id('k')}: answer not stored: idempotency key: storage temporarily unavailable"
    ]


class ReleasedAfterTheClaimFailed(FirestoreIdempotencyStore):
    """The first request's key is released (its answer was a 5xx) just after this claim found it."""

    def _found(self, ref: Any, record: KeyRecord) -> tuple[KeyRecord, Any]:
        self.release(ref.id)
        return super()._found(ref, record)


def test_a_key_released_just_after_a_claim_found_it_is_taken_at_once(scope: Scope, clock: Clock) -> None:
    keys = Idempotency(ReleasedAfterTheClaimFailed(wiring.firestore_client(), scope), clock, wait=0.0)
    working(keys, clock, "k")
    calls: list[int] = []
    assert keys.run("k", "fp", answering(201, calls=calls)) == (
        StoredResponse(status=201, content_type="application/json", body=b"{}"),
        False,
    )
    assert calls == [201]
