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
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.firestore import queries, wire
from shared.adapters.firestore.base import TenantRoot
from shared.adapters.google_errors import translated
from shared.domain.catalog import Collection
from shared.domain.counters import CounterPath, Deltas, combined, drift, flatten, product_paths, summary_deltas
from shared.domain.quality import QualitySummary
from shared.domain.tenancy import Scope
from shared.errors import ConflictError

STATS = "stats"
SHARD_PREFIX = "shard-"
RECONCILED = "reconciled"  # when the counters were last corrected by a recount
SUMMARIES = "quality"  # each product's quality summary (written by quality.py)
DEFAULT_SHARDS = 16


def shard_id(key: str, shards: int) -> str:
    """The shard a commit keyed by `key` (a document id) increments."""
    return f"{SHARD_PREFIX}{int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % shards:03d}"


def counter_writes(root: TenantRoot, deltas: Mapping[CounterPath, int], key: str, shards: int) -> list[Any]:
    """The write that adds `deltas` to one shard, to go in the commit that makes them ([] if none)."""
    nonzero = {path: n for path, n in deltas.items() if n}
    return [wire.increment(root.path(STATS, shard_id(key, shards)), nonzero)] if nonzero else []


class FirestoreStatsStore:
    """Implements StatsStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope, stats_shards: int = DEFAULT_SHARDS) -> None:
        self._client = client
        self._root = TenantRoot(client, scope)
        self._shards = stats_shards

    def counters(self) -> dict[CounterPath, int]:
        return self._counters(None)[0]

    def _counters(self, read_time: datetime | None) -> tuple[dict[CounterPath, int], Any]:
        """The summed shards, and the version of the reconciliation record (None: there is none)."""
        with translated("stats"):
            snaps = list(self._root.collection(STATS).stream(read_time=read_time))
        shards = [s.to_dict() or {} for s in snaps if s.id.startswith(SHARD_PREFIX)]
        record = next((s.update_time for s in snaps if s.id == RECONCILED), None)
        return combined(flatten(s) for s in shards), record

    def reconcile(self, as_of: datetime) -> Deltas | None:
        """Recount the catalog as it was at `as_of` and add the difference to the counters, so
        any drift (a write that moved none, data from before the counters) heals; returns it.

        Exact while writes go on: the counters and the data are read as of the same moment
        (Firestore reads any moment of the last hour), and what commits after it carries its own
        deltas. The correction commits with the reconciliation record, expecting the record's
        version as of that moment: if another reconciliation committed since, this one's counters
        did not see its correction, so it writes nothing (None)."""
        counted, record = self._counters(as_of)
        recounted: Counter[CounterPath] = Counter()
        products = self._root.collection(Collection.PRODUCTS).select(["status", "data_quality_score"])
        summaries = self._root.collection(SUMMARIES)
        with translated("stats recount"):
            for snap in products.stream(read_time=as_of):
                data = snap.to_dict() or {}
                recounted.update(product_paths(str(data.get("status")), data.get("data_quality_score")))
            for snap in summaries.stream(read_time=as_of):
                recounted.update(summary_deltas(None, QualitySummary.model_validate(snap.to_dict())))
        correction = drift(recounted, counted)
        if not correction:
            return correction
        path = self._root.path(STATS, RECONCILED)
        mark = {"as_of": as_of}
        marker = wire.create(path, mark) if record is None else wire.put(path, mark, record)
        try:
            with translated("stats"):
                wire.commit(
                    self._client, [marker, *counter_writes(self._root, correction, as_of.isoformat(), self._shards)]
                )
        except ConflictError:
            return None
        return correction

    def recent_jobs(self, since: datetime, limit: int) -> list[tuple[str, str]]:
        """(job_type, status) of the newest `limit` jobs created from `since` on: a range on
        created_at alone, which Firestore's automatic single-field index serves."""
        jobs = self._root.collection("bulk_jobs")
        query = queries.RECENT_JOBS.build(jobs, {}, (">=", since)).select(["job_type", "status"]).limit(limit)
        with translated("bulk jobs"):
            return [(str(s.get("job_type")), str(s.get("status"))) for s in query.stream()]
