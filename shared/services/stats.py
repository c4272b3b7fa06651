"""GET /stats: a tenant's aggregate figures, cheap at any catalog size.

Nothing is counted here: the catalog counters are kept by the writes themselves (counters.py),
so a read is a handful of small documents, whatever the catalog's size. Bulk jobs of the last
7 days are few and read by one bounded query; the newest export is one query with limit 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.stats import CatalogStats, catalog_stats
from shared.domain.tenancy import Scope
from shared.services.ports import ExportStore, StatsStore

RECENT_JOBS_WINDOW = timedelta(days=7)
RECENT_JOBS_LIMIT = 10_000  # far beyond what a tenant starts in a week; bounds the read if not


@dataclass
class Stats:
    scope: Scope
    store: StatsStore
    exports: ExportStore
    clock: Callable[[], datetime]

    def read(self) -> CatalogStats:
        now = self.clock()
        since = now - RECENT_JOBS_WINDOW
        newest = self.exports.list(1, None).items
        return catalog_stats(
            self.scope.tenant_id,
            self.scope.org_id,
            self.store.counters(),
            self.store.recent_jobs(since, RECENT_JOBS_LIMIT),
            since,
            newest[0].view() if newest else None,
            now,
        )
