"""The catalog counters in Firestore, and the other reads behind GET /stats.

The counters live in `stats/{shard}` documents beside the data they count. A commit that changes
a counted value adds its deltas to ONE shard, chosen by a hash of the first document it writes
(so the batches of one import, or requests on different products, spread over the shards), by a
server-side increment in the same atomic commit. Production sustains about one write a second on
one document; a large import commits ~8 batches a second, hence shards. A read sums every shard
document there is (a listing of at most `shards` small documents), so changing the shard count
loses nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import queries, wire
from shared.adapters.firestore.base import TenantRoot
from shared.adapters.google_errors import translated
from shared.domain.counters import CounterPath, combined, flatten
from shared.domain.tenancy import Scope

STATS = "stats"
DEFAULT_SHARDS = 16


def shard_id(key: str, shards: int) -> str:
    """The shard a commit keyed by `key` (a document id) increments."""
    return f"shard-{int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % shards:03d}"


def counter_writes(root: TenantRoot, deltas: Mapping[CounterPath, int], key: str, shards: int) -> list[Any]:
    """The write that adds `deltas` to one shard, to go in the commit that makes them ([] if none)."""
    nonzero = {path: n for path, n in deltas.items() if n}
    return [wire.increment(root.path(STATS, shard_id(key, shards)), nonzero)] if nonzero else []


class FirestoreStatsStore:
    """Implements StatsStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._root = TenantRoot(client, scope)

    def counters(self) -> dict[CounterPath, int]:
        with translated("stats"):
            shards = [snap.to_dict() or {} for snap in self._root.collection(STATS).stream()]
        return combined(flatten(s) for s in shards)

    def recent_jobs(self, since: datetime, limit: int) -> list[tuple[str, str]]:
        """(job_type, status) of the newest `limit` jobs created from `since` on: a range on
        created_at alone, which Firestore's automatic single-field index serves."""
        jobs = self._root.collection("bulk_jobs")
        query = queries.RECENT_JOBS.build(jobs, {}, (">=", since)).select(["job_type", "status"]).limit(limit)
        with translated("bulk jobs"):
            return [(str(s.get("job_type")), str(s.get("status"))) for s in query.stream()]
