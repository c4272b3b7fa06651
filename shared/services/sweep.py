"""The scheduled sweep: every tenant's whole catalog evaluated afresh, page by page.

Bounded memory (one page at a time), resumable (the cursor is saved after every page and a run
stops at its time budget), and safe to start twice (a lease lets one run at a time; evaluation is
idempotent anyway, so a sweep beside a running bulk job converges too).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Literal, Protocol

from pydantic import BaseModel

from shared.domain.tenancy import Scope
from shared.errors import SynqError
from shared.services.ports import IssueStore
from shared.services.quality import Quality

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
RECOUNT_LAG = timedelta(seconds=1)  # a recount reads the moment just past: no server is behind it


class SweepCursor(BaseModel):
    tenant_id: str
    org_id: str
    phase: Literal["products", "orphans"] = "products"
    after: str | None = None


class SweepStore(Protocol):
    def acquire(self, owner: str, now: datetime, lease: timedelta) -> tuple[bool, SweepCursor | None]:
        """Take the lease unless another live run holds it; returns (taken, saved cursor)."""
        ...

    def save(self, owner: str, cursor: SweepCursor | None, now: datetime, lease: timedelta) -> bool:
        """Save progress and extend the lease; False if another run took it over."""
        ...

    def release(self, owner: str, completed: bool, now: datetime) -> None: ...

    def last_completed(self) -> datetime | None:
        """When the last whole pass ended (None: never)."""
        ...

    def scopes(self, after: tuple[str, str] | None) -> Iterator[Scope]:
        """Every tenant + org, in id order, from `after` on (inclusive)."""
        ...


class SweepReport(BaseModel):
    status: Literal["completed", "paused", "busy", "resting"]
    products: int = 0
    issue_writes: int = 0
    counters_corrected: int = 0  # scopes whose catalog counters a recount found drifted, and corrected
    cursor: SweepCursor | None = None


class CounterReconciler(Protocol):
    def reconcile(self, as_of: datetime) -> dict[tuple[str, ...], int] | None:
        """Recount the scope's catalog as it was at `as_of` and add the difference to its
        counters; returns the difference (None: another reconciliation got there first)."""
        ...


@dataclass
class Sweep:
    store: SweepStore
    quality_for: Callable[[Scope], Quality]
    issues_for: Callable[[Scope], IssueStore]
    clock: Callable[[], datetime]
    page_size: int = 300
    # A new pass starts no sooner than this after the last one ended. Every write already
    # evaluates what it touched, so a pass only catches what a failed evaluation left behind;
    # passes back to back would re-read every product several times a pass, all day long.
    min_interval: timedelta = timedelta(0)
    # Each scope's catalog counters recounted once its pass is done (None: not recounted).
    counters_for: Callable[[Scope], CounterReconciler] | None = None

    def run(self, budget_seconds: float) -> SweepReport:
        owner = uuid.uuid4().hex
        taken, cursor = self.store.acquire(owner, self.clock(), LEASE)
        if not taken:
            return SweepReport(status="busy")
        if cursor is None and self.min_interval > timedelta(0):  # a new pass would start
            ended = self.store.last_completed()
            if ended is not None and self.clock() - ended < self.min_interval:
                self.store.release(owner, completed=False, now=self.clock())
                return SweepReport(status="resting")
        deadline = time.monotonic() + budget_seconds
        report = SweepReport(status="completed")
        start = (cursor.tenant_id, cursor.org_id) if cursor else None
        for scope in self.store.scopes(start):
            here = cursor if cursor and (cursor.tenant_id, cursor.org_id) == (scope.tenant_id, scope.org_id) else None
            for position in self._pages(
                scope, here or SweepCursor(tenant_id=scope.tenant_id, org_id=scope.org_id), report
            ):
                saved = position or _next_scope(scope)
                if not self.store.save(owner, saved, self.clock(), LEASE):
                    return report.model_copy(update={"status": "busy"})  # another run took over
                if time.monotonic() > deadline:  # checked after a page: every run makes progress
                    self.store.release(owner, completed=False, now=self.clock())
                    return report.model_copy(update={"status": "paused", "cursor": saved})
            cursor = None
        self.store.release(owner, completed=True, now=self.clock())
        return report

    def _pages(self, scope: Scope, position: SweepCursor, report: SweepReport) -> Iterator[SweepCursor | None]:
        """Evaluate the scope page by page from `position`; yields the position after each page
        (None once the scope is done)."""
        quality, issues = self.quality_for(scope), self.issues_for(scope)
        if position.phase == "products":
            products = issues.products_by_id(position.after)
            while page := list(islice(products, self.page_size)):
                report.products += len(page)
                report.issue_writes += quality.evaluate(p.id for p in page)
                position = position.model_copy(update={"after": page[-1].id})
                yield position
            position = SweepCursor(tenant_id=scope.tenant_id, org_id=scope.org_id, phase="orphans")
        # Products evaluated before and gone since (deleted behind the API's back): their open
        # issues resolve and their SKUs leave the index.
        evaluated = issues.summary_ids(position.after)
        while ids := list(islice(evaluated, self.page_size)):
            gone = set(ids) - set(issues.versions(set(ids)))
            report.issue_writes += quality.evaluate(gone) if gone else 0
            position = position.model_copy(update={"after": ids[-1]})
            yield position
        # Every write moves the counters it changes; a recount heals any drift (a product deleted
        # behind the API's back, data older than the counters). Exact while writes go on.
        if self.counters_for is not None and self._recount(self.counters_for(scope), scope):
            report.counters_corrected += 1
        yield None

    def _recount(self, counters: CounterReconciler, scope: Scope) -> bool:
        """Whether the scope's counters were corrected. A recount that fails (one that outlasts the
        hour Firestore keeps past versions, say) is logged and left to the next pass: the sweep
        goes on to the next scope."""
        try:
            return bool(counters.reconcile(self.clock() - RECOUNT_LAG))
        except SynqError as exc:
            log.warning("recounting the counters of %s/%s failed: %s", scope.tenant_id, scope.org_id, exc)
            return False


def _next_scope(scope: Scope) -> SweepCursor:
    """A cursor just past a finished scope (org ids sort after this one's)."""
    return SweepCursor(tenant_id=scope.tenant_id, org_id=scope.org_id + "\uffff")
