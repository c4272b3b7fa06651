"""Continuous data-quality evaluation: after every write, the products it touched (and the other
holders of their SKUs) are evaluated afresh and their validation-issue records brought up to date.

Records are derived data: evaluation reads the catalog as it is now and writes whole records, so
running it again, late or twice at once, converges on the same records. After writing it checks
that the products it judged did not move meanwhile, and judges again those that did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.domain.catalog import Collection, Product
from shared.domain.models import Page
from shared.domain.quality import (
    IssueChange,
    QualitySummary,
    Severity,
    ValidationIssue,
    open_after,
    reconcile,
    registered_skus,
    registry_changes,
    verified_holders,
)
from shared.domain.tenancy import Scope
from shared.errors import ConflictError
from shared.services.attributes import load_schema
from shared.services.ports import CatalogStore, IssueStore

MAX_PAGE = 100
SETTLE_ATTEMPTS = 3
CONFLICT_ATTEMPTS = 5  # evaluations of one product racing each other: each retry re-reads


@dataclass
class Quality:
    scope: Scope
    catalog: CatalogStore
    issues: IssueStore
    clock: Callable[[], datetime]

    def judge_duplicates(self, created: dict[str, tuple[Product, object]]) -> int:
        """Products just created, committed with their first records (first_records) and their
        SKUs registered: judge again those whose SKUs the index now shows held by another product
        too (a duplicate appears for both). Returns how many records were written.

        Registered before this read, so of two batches creating one SKU at once, at least the
        later reader sees the other's holder (as in evaluate)."""
        own = {pid: registered_skus(product) for pid, (product, _) in created.items()}
        index = self.issues.holders({sku for skus in own.values() for sku in skus})
        shared = {pid for pid, skus in own.items() if any(index.get(sku, set()) - {key} for sku, key in skus.items())}
        if not shared:
            return 0
        return self.evaluate(shared, {pid: created[pid] for pid in shared}, recorded=True)

    def evaluate(
        self,
        product_ids: Iterable[str],
        known: dict[str, tuple[Product, object]] | None = None,
        recorded: bool = False,
    ) -> int:
        """Bring the issues of these products up to date; returns how many records were written.

        `known`: products the caller has just written or read, with their versions, so they need
        not be read whole again: only their versions are, after their summaries, and those that
        moved are read anew. `recorded`: their summaries were written with them (or before), so
        they are read as any other product's."""
        pending, written, conflicts = set(product_ids), 0, 0
        # The caller's own commit created the `known` products, so no evaluation can have left a
        # summary of them before it: theirs are not read, and written with create().
        fresh = not recorded
        settled = 0
        while pending and settled < SETTLE_ATTEMPTS:
            try:
                judged, versions, count = self._evaluate_once(pending, known or {}, fresh=fresh)
            except ConflictError:
                # A summary moved since it was read (another evaluation wrote it, a racing
                # delivery judged the new products): nothing of that commit was written, so the
                # products are judged again from what is stored now.
                conflicts += 1
                if conflicts >= CONFLICT_ATTEMPTS:
                    raise
                fresh = False
                continue
            known, fresh = None, False
            settled += 1
            written += count
            now = self.issues.versions(judged)
            pending = {pid for pid in judged if now.get(pid) != versions.get(pid)}
        return written

    def _evaluate_once(
        self, ids: set[str], known: dict[str, tuple[Product, object]], fresh: bool = False
    ) -> tuple[set[str], dict[str, object], int]:
        new = frozenset(pid for pid in known if pid in ids) if fresh else frozenset()
        # Summaries are read before the products they judge, so a summary never reflects a newer
        # product than the one judged: a judgement of a product as it was then finds its summary
        # moved (the write expects the version read) and is not written over a newer one.
        summaries = self.issues.summaries(ids - new)
        given = {pid: pv for pid, pv in known.items() if pid in ids}
        if read_before := set(given) - new:  # read before these summaries: still as they were?
            current = self.issues.versions(read_before)
            given = {pid: pv for pid, pv in given.items() if pid in new or current.get(pid) == pv[1]}
        products, versions = self._load(ids - set(given))
        products.update({pid: p for pid, (p, _) in given.items()})
        versions.update({pid: v for pid, (_, v) in given.items()})
        skus = self._register(ids, products, summaries)
        # The other holders of these SKUs are judged too: a duplicate appears or clears for both.
        index = self.issues.holders(skus)
        others = {key.partition("/")[0] for keys in index.values() for key in keys} - ids
        if others:
            summaries.update(self.issues.summaries(others))
            more, more_versions = self._load(others)
            products.update(more)
            versions.update(more_versions)
            extra = {sku for p in more.values() for sku in registered_skus(p)} - set(index)
            index.update(self.issues.holders(extra))
        judged = ids | others
        open_issues = [i for s in summaries.values() for i in s.open]
        now = self.clock()
        schema = load_schema(self.catalog, {p.template_id for p in products.values()})
        changes = reconcile(
            sorted(judged),
            products,
            verified_holders(index, products),
            open_issues,
            self.scope.tenant_id,
            self.scope.org_id,
            now,
            schema,
        )
        next_summaries = self._summaries(judged, products, summaries, changes, now)
        self.issues.apply(changes, next_summaries, new, previous=summaries)
        return judged, versions, len(changes)

    def _load(self, ids: set[str]) -> tuple[dict[str, Product], dict[str, object]]:
        found = self.catalog.get_many(Collection.PRODUCTS, sorted(ids))
        return {pid: p for pid, (p, _) in found.items()}, {pid: v for pid, (_, v) in found.items()}

    def _register(self, ids: set[str], products: dict[str, Product], summaries: dict[str, QualitySummary]) -> set[str]:
        """Bring the SKU index up to date for these products; returns every SKU they hold or held."""
        added: dict[str, set[str]] = {}
        removed: dict[str, set[str]] = {}
        touched: set[str] = set()
        for pid in ids:
            before = summaries[pid].skus if pid in summaries else {}
            now = registered_skus(products.get(pid))
            plus, minus = registry_changes(before, now)
            for sku, keys in plus.items():
                added.setdefault(sku, set()).update(keys)
            for sku, keys in minus.items():
                removed.setdefault(sku, set()).update(keys)
            touched |= set(before) | set(now)
        if added or removed:
            self.issues.register(added, removed)
        return touched

    @staticmethod
    def _summaries(
        judged: set[str],
        products: dict[str, Product],
        previous: dict[str, QualitySummary],
        changes: list[IssueChange],
        now: datetime,
    ) -> dict[str, QualitySummary | None]:
        """The summaries to write: those that changed (None deletes one whose product is gone)."""
        by_product: dict[str, list[IssueChange]] = {}
        for change in changes:
            by_product.setdefault(change.data["product_id"], []).append(change)
        written: dict[str, QualitySummary | None] = {}
        for pid in judged:
            before = previous.get(pid)
            product = products.get(pid)
            if product is None:
                if before is not None:
                    written[pid] = None
                continue
            skus = registered_skus(product)
            if before is not None and before.skus == skus and pid not in by_product:
                continue  # nothing new to remember
            still_open = open_after(before.open if before else [], by_product.get(pid, []))
            written[pid] = QualitySummary(product_id=pid, skus=skus, open=still_open, evaluated_at=now)
        return written

    def list(
        self,
        *,
        severity: Severity | None = None,
        code: str | None = None,
        product_id: str | None = None,
        limit: int = MAX_PAGE,
        cursor: str | None = None,
    ) -> Page[ValidationIssue]:
        filters = {"severity": severity.value if severity else None, "code": code, "product_id": product_id}
        return self.issues.list_issues({k: v for k, v in filters.items() if v}, min(limit, MAX_PAGE), cursor)
