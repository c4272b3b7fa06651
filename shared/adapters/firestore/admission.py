"""Per-tenant limits on running work (bulk jobs, exports), exact under concurrent requests.

Each tenant has one admission document per kind of work, `tenants/{tenant}/admission/{kind}`,
naming the records that hold its slots. A new record is admitted in the transaction that creates
it: the transaction reads the admission document, drops the holders that have reached a final
status, refuses the request if `limit` remain, and otherwise writes itself in as a holder. Two
requests racing both write the admission document, so one of them runs again and sees the other.

A slot is released by its holder reaching a final status, whatever got it there (its last batch,
a cancel, the watchdog, a failed enqueue): nothing has to remember to release it, and no write
path of a job or export changes. Holders are read outside the transaction: a final status never
changes back, so a read that is stale can only count a finished record as running (refuse once
too often), never the other way round; and the transaction takes no lock on a job document that
every batch writes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.google_errors import aborted_for_contention
from shared.domain.tenancy import RunningLimit
from shared.errors import TooManyRequestsError

ADMISSION = "admission"
# A burst of a tenant's creations all read and write its one admission document. The Python client
# retries an aborted transaction at once, so racers that aborted together meet again (the emulator
# answers such a meeting after about 2 s, aborting them all). Rounds of a few attempts, with a
# jittered, growing pause between rounds as the other client libraries take, spread them out.
ADMIT_ROUNDS = 12
ADMIT_ATTEMPTS_PER_ROUND = 2
ADMIT_BACKOFF_SECONDS = 0.05
ADMIT_BACKOFF_MAX_SECONDS = 1.0

T = TypeVar("T")


def run_admitting(
    client: firestore.Client,
    create: Callable[[firestore.Transaction], T],
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> T:
    """Run `create`, a `@firestore.transactional` function that calls `admit`, backing off between
    rounds of attempts while it aborts for contention (a pause drawn by `jitter` up to a ceiling
    that doubles each round); the last round's failure is raised as is."""
    for round_ in range(ADMIT_ROUNDS - 1):
        try:
            return create(client.transaction(max_attempts=ADMIT_ATTEMPTS_PER_ROUND))
        except (ValueError, gexc.Aborted) as exc:
            if not aborted_for_contention(exc):
                raise
        sleep(jitter(0, min(ADMIT_BACKOFF_MAX_SECONDS, ADMIT_BACKOFF_SECONDS * 2**round_)))
    return create(client.transaction(max_attempts=ADMIT_ATTEMPTS_PER_ROUND))


def admit(
    client: firestore.Client,
    txn: firestore.Transaction,
    tenant_id: str,
    held: Any,
    running_statuses: Collection[str],
    limit: RunningLimit,
) -> None:
    """Take a slot for the document `held` (created by the caller in the same transaction), or
    raise TooManyRequestsError when the tenant's records in `running_statuses` already fill
    `limit`. The kind of work is the held document's collection: `bulk_jobs` or `exports`."""
    kind = held.parent.id
    ref = client.collection("tenants").document(tenant_id).collection(ADMISSION).document(kind)
    snap = ref.get(transaction=txn)
    holders: dict[str, str] = (snap.get("holders") or {}) if snap.exists else {}
    running = {}
    if holders:
        for doc in client.get_all([client.document(path) for path in holders.values()], field_paths=["status"]):
            if doc.exists and doc.get("status") in running_statuses:
                running[doc.id] = doc.reference.path
    if len(running) >= limit.most:
        raise TooManyRequestsError(
            f"the tenant already has {len(running)} {kind.replace('_', ' ')} running, the most it may at once; "
            "retry once one has finished",
            limit.retry_after_seconds,
        )
    txn.set(ref, {"holders": {**running, held.id: held.path}})
