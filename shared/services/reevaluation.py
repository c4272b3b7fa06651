"""Re-evaluating the products an attribute-definition or product-template change affects, in the
background, page by page, several pages per Cloud Tasks delivery.

Each task streams the products from its cursor on (in id order; those of one template for a
template change) with one query, and takes them a page at a time: it judges the page's issues
afresh (INVALID_ATTRIBUTE_VALUE, MISSING_REQUIRED_ATTRIBUTE, ...) and writes the derived fields that
moved (completeness, data_quality_score) with the version it read. Once its time budget is spent
it stops after the page in hand and queues its successor from there, under a name derived from
the run and the task's place in it. So a catalog of any size is never read at once (one page in
hand), a run is one query per task rather than one per page (the emulator scans the collection
to find where each query starts), and a redelivered task redoes idempotent pages and queues its
successor under the same name (the queue keeps one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from shared.domain.attributes import CatalogSchema
from shared.domain.catalog import Collection, Product, Write
from shared.domain.scoring import quality_score
from shared.domain.tenancy import Scope
from shared.errors import ConflictError
from shared.services.attributes import load_schema
from shared.services.ports import CatalogStore, TaskQueue
from shared.services.quality import Quality
from shared.services.tasks import ReevaluationTask

log = logging.getLogger(__name__)
MAX_WRITES = 400  # derived-field writes per commit (Firestore takes 500)
DERIVED = ("completeness", "data_quality_score")  # what re-evaluation writes of a product


@dataclass
class Reevaluation:
    """What one task of a re-evaluation run does."""

    scope: Scope
    store: CatalogStore
    quality: Quality
    queue: TaskQueue
    page_size: int = 300
    budget_seconds: float = 60.0
    timer: Callable[[], float] = time.monotonic

    def handle(self, task: ReevaluationTask) -> str:
        deadline = self.timer() + self.budget_seconds
        stream = self.store.products_from(task.after, task.template_id)
        count = written = issue_writes = 0
        try:
            while True:
                page = list(islice(stream, self.page_size))
                count += len(page)
                if page:
                    page_written, page_issue_writes = self._reevaluate(page)
                    written, issue_writes = written + page_written, issue_writes + page_issue_writes
                if len(page) < self.page_size:
                    done = " (last page)"
                    break
                if self.timer() > deadline:  # checked after a page: every task makes progress
                    following = task.next(page[-1][0].id)
                    self.queue.enqueue(following.name, following.to_body())
                    done = f", {following.name} queued"
                    break
                del page  # one page in hand at a time
        finally:
            close(stream)
        return f"re-evaluated {count} product(s), {written} rewritten, {issue_writes} issue write(s){done}"

    def _reevaluate(self, page: list[tuple[Any, Any]]) -> tuple[int, int]:
        """Judge the page's issues as the products will be once their derived fields are written,
        then write those fields where they moved; (products rewritten, issue records written).

        The issues are judged from the products as read (no second read of the page); the
        evaluation's own check after writing re-judges any that moved meanwhile."""
        schema = load_schema(self.store, {p.template_id for p, _ in page})
        derived = {product.id: (self._derived(product, schema), version) for product, version in page}
        issue_writes = self.quality.evaluate(derived, known=derived, recorded=True)
        writes = [
            Write("update", Collection.PRODUCTS, pid, {k: getattr(now, k) for k in DERIVED}, version)
            for (before, _), (pid, (now, version)) in zip(page, derived.items(), strict=True)
            if any(getattr(now, k) != getattr(before, k) for k in DERIVED)
        ]
        return self._commit(writes), issue_writes

    @staticmethod
    def _derived(product: Product, schema: CatalogSchema) -> Product:
        completeness = schema.completeness(product.template_id, product.attributes)
        with_completeness = product.model_copy(update={"completeness": completeness})
        return with_completeness.model_copy(update={"data_quality_score": quality_score(with_completeness)})

    def _commit(self, writes: list[Write]) -> int:
        """With the version read: a product that changed meanwhile was judged by its own write, so
        a conflict is left to it. Returns how many were written."""
        written = 0
        for start in range(0, len(writes), MAX_WRITES):
            chunk = writes[start : start + MAX_WRITES]
            try:
                self.store.commit(chunk, [])
                written += len(chunk)
            except ConflictError:  # one product was edited meanwhile: the others go one by one
                for write in chunk:
                    try:
                        self.store.commit([write], [])
                        written += 1
                    except ConflictError:
                        log.info("product %s changed during re-evaluation; its own write judged it", write.doc_id)
        return written


def close(stream: Iterator[Any]) -> None:
    """Stop reading a stream left part-read (its query ends with it)."""
    stop = getattr(stream, "close", None)
    if stop is not None:
        stop()
