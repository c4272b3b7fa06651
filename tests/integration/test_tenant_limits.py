"""Per-tenant limits on running work, against the emulators: a tenant's (R+1)-th PENDING or
PROCESSING job and its (R+1)-th QUEUED or RUNNING export are refused with 429 and Retry-After,
exactly also when the requests race; a slot comes back when its holder reaches a final status by
any path (its last batch, a cancel, the watchdog's failure); one tenant at its limit never holds
back another; and an Idempotency-Key replay of an accepted job answers as it did, never 429."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared import wiring
from shared.adapters.firestore.admission import run_admitting
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.exports import FirestoreExportStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.domain.exports import Delivery, DeliveryStatus, ExportFormat, ExportStatus
from shared.domain.models import JobStatus, JobType
from shared.domain.notifications import event_id, event_type
from shared.domain.tenancy import Principal, Role, RunningLimit, Scope
from shared.errors import TooManyRequestsError
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.exports import Exports
from shared.services.tasks import WorkerTask
from shared.settings import get_settings
from tests.integration.conftest import B, CapturedQueue
from tests.support import concurrently, new_scope

ITEMS = [{"title": "Lamp", "sku": "L-1"}]


def limits(most: int) -> BulkLimits:
    return BulkLimits(
        max_job_items=1000,
        batch_max_items=249,
        batch_max_bytes=4_000_000,
        inline_payload_max_bytes=256 * 1024,
        running=RunningLimit(most, 17),
    )


class Tenant:
    """One tenant's bulk jobs and exports, queued to a paused queue: nothing runs unless the test runs it."""

    def __init__(self, queue: CapturedQueue[WorkerTask], most_jobs: int = 2, most_exports: int = 1) -> None:
        self.scope = new_scope()
        self.queue = queue
        self.actor = Principal(email="owner@example.com", role=Role.ADMIN, scope=self.scope)
        self.store = FirestoreJobStore(wiring.firestore_client(), self.scope)
        self.jobs = BulkJobs(self.store, wiring.payload_store(), queue, limits(most_jobs), wiring.utc_now)
        self.export_store = FirestoreExportStore(wiring.firestore_client(), self.scope)
        policy = wiring.export_policy()
        policy = type(policy)(**{**policy.__dict__, "running": RunningLimit(most_exports, 17)})
        self.exports = Exports(self.scope, self.export_store, wiring.export_files(), queue, policy, wiring.utc_now)

    def create(self, dry_run: bool = False) -> str:
        return self.jobs.create(self.actor, JobType.BULK_IMPORT, ITEMS, dry_run=dry_run).id

    def refused(self) -> TooManyRequestsError:
        with pytest.raises(TooManyRequestsError) as refusal:
            self.create()
        return refusal.value

    def run(self, job_id: str) -> None:
        """Deliver the job's tasks (start, then its batches) until it is done."""
        processor = BulkJobProcessor(
            self.store,
            FirestoreCatalogStore(wiring.firestore_client(), self.scope),
            wiring.payload_store(),
            self.queue,
            wiring.quality(self.scope),
            wiring.utc_now,
        )
        while tasks := [t for t in self.queue.take() if t.job_id == job_id]:
            for task in tasks:
                processor.handle(task)


@pytest.fixture()
def tenant(queue: CapturedQueue[WorkerTask]) -> Tenant:
    return Tenant(queue)


def test_the_third_running_job_is_refused_with_a_retry_delay_and_admitted_once_one_is_cancelled(
    tenant: Tenant,
) -> None:
    first, _ = tenant.create(), tenant.create()
    refusal = tenant.refused()
    assert (refusal.status, refusal.code, refusal.retry_after_seconds) == (429, "TOO_MANY_REQUESTS", 17)
    assert refusal.message == (
        "the tenant already has 2 bulk jobs running, the most it may at once; retry once one has finished"
    )
    tenant.jobs.cancel(tenant.actor, first)
    tenant.create()
    tenant.refused()


def holders(tenant: Tenant, kind: str = "bulk_jobs") -> set[str]:
    """The records named in the tenant's admission document, where the README says it is."""
    path = f"tenants/{tenant.scope.tenant_id}/admission/{kind}"
    return set(wiring.firestore_client().document(path).get().get("holders"))


def test_a_slot_comes_back_when_the_job_completes_and_when_the_watchdog_fails_it(tenant: Tenant) -> None:
    first, second = tenant.create(), tenant.create()
    tenant.refused()
    tenant.run(first)
    assert tenant.store.get_job(first).status is JobStatus.COMPLETED
    assert holders(tenant) == {first, second}  # a finished holder is dropped by the next admission
    third = tenant.create()
    assert holders(tenant) == {second, third}
    tenant.refused()
    tenant.store.fail_job(second, "rescued too often", wiring.utc_now())  # as the watchdog gives a job up
    tenant.create()
    assert tenant.store.get_job(third).status is JobStatus.PENDING


def test_a_dry_run_holds_a_slot_like_any_job(tenant: Tenant) -> None:
    tenant.create(dry_run=True)
    tenant.create(dry_run=True)
    tenant.refused()


def test_racing_requests_get_exactly_the_limit_of_slots(queue: CapturedQueue[WorkerTask]) -> None:
    tenant = Tenant(queue, most_jobs=2)
    barrier = threading.Barrier(6)

    def create() -> str:
        barrier.wait()
        return tenant.create()

    results = concurrently(*[create] * 6)
    created = [r for r in results if isinstance(r, str)]
    assert len(created) == 2, results
    # Every loser is refused for the limit: none gives up on the contended admission document.
    assert all(isinstance(r, TooManyRequestsError) for r in results if not isinstance(r, str)), results
    stored = tenant.store.list_jobs(JobType.BULK_IMPORT, 100, None).items
    assert sorted(j.id for j in stored) == sorted(created)


class Contended:
    """A creating transaction that aborts for contention `times` times (at commit, as the client
    reports it after its attempts, or at a read), then succeeds."""

    def __init__(self, times: int, at_read: bool = False) -> None:
        self.left, self.at_read = times, at_read
        self.attempts: list[int] = []  # each call's attempts per round

    def __call__(self, txn: Any) -> str:
        self.attempts.append(txn._max_attempts)
        if self.left == 0:
            return "created"
        self.left -= 1
        aborted = gexc.Aborted("contention")
        if self.at_read:
            raise aborted
        raise ValueError("Failed to commit transaction") from aborted


class Jitter:
    """Records the range of each pause asked for, and draws the longest."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def __call__(self, low: float, high: float) -> float:
        self.ranges.append((low, high))
        return high


@pytest.mark.parametrize("at_read", [False, True])
def test_a_contended_admission_backs_off_ever_longer_between_rounds(at_read: bool) -> None:
    pauses: list[float] = []
    create, jitter = Contended(4, at_read), Jitter()
    assert run_admitting(wiring.firestore_client(), create, pauses.append, jitter) == "created"
    assert create.attempts == [2] * 5  # rounds of two attempts (README)
    assert jitter.ranges == [(0, 0.05), (0, 0.1), (0, 0.2), (0, 0.4)]
    assert pauses == [0.05, 0.1, 0.2, 0.4]


def test_a_contended_admission_gives_up_after_its_last_round_and_other_errors_at_once() -> None:
    pauses: list[float] = []
    create = Contended(12)
    with pytest.raises(ValueError) as gave_up:
        run_admitting(wiring.firestore_client(), create, pauses.append, Jitter())
    assert isinstance(gave_up.value.__cause__, gexc.Aborted)
    assert len(create.attempts) == 12  # 12 rounds at most (README), 11 pauses between them
    assert pauses == [0.05, 0.1, 0.2, 0.4, 0.8] + [1.0] * 6
    assert run_admitting(wiring.firestore_client(), Contended(11), pauses.append) == "created"

    def broken(txn: Any) -> str:
        raise ValueError("a bug, not contention")

    pauses.clear()
    with pytest.raises(ValueError, match="a bug"):
        run_admitting(wiring.firestore_client(), broken, pauses.append)
    assert pauses == []


def test_a_tenant_at_its_limit_never_holds_back_another(queue: CapturedQueue[WorkerTask]) -> None:
    busy, other = Tenant(queue), Tenant(queue)
    busy.create(), busy.create()
    busy.refused()
    job = other.create()
    other.run(job)
    assert other.store.get_job(job).status is JobStatus.COMPLETED
    busy.refused()


def test_an_export_waits_for_the_tenants_running_one(tenant: Tenant) -> None:
    first = tenant.exports.request(tenant.actor, ExportFormat.CSV)
    with pytest.raises(TooManyRequestsError) as refusal:
        tenant.exports.request(tenant.actor, ExportFormat.CSV)
    assert "1 exports running" in refusal.value.message
    tenant.create()  # jobs and exports have slots of their own
    assert tenant.export_store.get(first.id).status is ExportStatus.QUEUED
    # As the watchdog gives an export up: its final status frees the slot.
    kind = event_type(ExportStatus.FAILED)
    delivery = Delivery(event_id=event_id(first.id, kind), event_type=kind, status=DeliveryStatus.NOT_CONFIGURED)
    tenant.export_store.finish(first.id, ExportStatus.FAILED, delivery, wiring.utc_now(), "rescued too often")
    tenant.exports.request(tenant.actor, ExportFormat.NDJSON)


# --- over HTTP ---------------------------------------------------------------------------------
@pytest.fixture()
def one_job_at_a_time(monkeypatch: pytest.MonkeyPatch, queue: CapturedQueue[WorkerTask]) -> Iterator[None]:
    monkeypatch.setenv("TENANT_MAX_RUNNING_JOBS", "1")
    monkeypatch.setenv("TENANT_LIMIT_RETRY_AFTER_SECONDS", "45")
    monkeypatch.setattr(wiring, "task_queue", lambda: queue)  # paused: the accepted job stays PENDING
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def post_job(client: Any, auth: dict[str, str], key: str | None = None) -> Any:
    hdrs = {**auth, "Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    return client.post(f"{B}/bulk-jobs", data=json.dumps({"job_type": "BULK_IMPORT", "payload": ITEMS}), headers=hdrs)


@pytest.mark.usefixtures("one_job_at_a_time")
def test_over_http_a_refusal_is_429_with_retry_after_and_a_replay_of_the_accepted_job_is_not(
    client: Any, auth: dict[str, str], scope: Scope
) -> None:
    accepted = post_job(client, auth, key="first")
    assert accepted.status_code == 200
    refused = post_job(client, auth, key="second")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "45"
    assert refused.get_json()["code"] == "TOO_MANY_REQUESTS" and refused.get_json()["error"]
    replay = post_job(client, auth, key="first")
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == accepted.get_data()
    # The 429 was not kept as the key's answer: once the slot is free, the same request goes through.
    cancelled = client.post(f"{B}/bulk-jobs/{accepted.get_json()['id']}/cancel", headers=auth)
    assert cancelled.status_code == 200
    again = post_job(client, auth, key="second")
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
