"""Re-evaluating the products an attribute-definition or product-template change affects, in the
background, a page at a time, one Cloud Tasks delivery per page.

Each task reads one page of products (in id order; those of one template for a template change),
writes the derived fields that moved (completeness, data_quality_score) with the version it read,
judges the page's issues afresh (INVALID_ATTRIBUTE_VALUE, MISSING_REQUIRED_ATTRIBUTE, ...), and
queues the next page under a name derived from the run and the page. So a catalog of any size is
never read at once, and a redelivered task redoes one idempotent page and queues its successor
under the same name (the queue keeps one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.domain.attributes import CatalogSchema
from shared.domain.catalog import Collection, Write
from shared.domain.scoring import quality_score
from shared.domain.tenancy import Scope
from shared.errors import ConflictError
from shared.services.attributes import load_schema
from shared.services.ports import CatalogStore, TaskQueue
from shared.services.quality import Quality
from shared.services.tasks import ReevaluationTask

log = logging.getLogger(__name__)
MAX_WRITES = 400  # derived-field writes per commit (Firestore takes 500)


@dataclass
class Reevaluation:
    """One page of a re-evaluation run: what one task does."""

    scope: Scope
    store: CatalogStore
    quality: Quality
    queue: TaskQueue
    page_size: int = 300

    def handle(self, task: ReevaluationTask) -> str:
        page = self.store.products_page(task.after, self.page_size, task.template_id)
        schema = load_schema(self.store, {p.template_id for p, _ in page})
        written = self._rewrite_derived(page, schema)
        issue_writes = self.quality.evaluate(p.id for p, _ in page) if page else 0
        if len(page) == self.page_size:
            following = task.next(page[-1][0].id)
            self.queue.enqueue(following.name, following.to_body())
        done = "" if len(page) == self.page_size else " (last page)"
        return f"re-evaluated {len(page)} product(s), {written} rewritten, {issue_writes} issue write(s){done}"

    def _rewrite_derived(self, page: list[tuple[Any, Any]], schema: CatalogSchema) -> int:
        """Write completeness and score where they moved, with the version read: a product that
        changed meanwhile was judged by its own write, so a conflict is left to it."""
        writes = []
        for product, version in page:
            completeness = schema.completeness(product.template_id, product.attributes)
            score = quality_score(product.model_copy(update={"completeness": completeness}))
            if (completeness, score) != (product.completeness, product.data_quality_score):
                data = {"completeness": completeness, "data_quality_score": score}
                writes.append(Write("update", Collection.PRODUCTS, product.id, data, version))
        for start in range(0, len(writes), MAX_WRITES):
            chunk = writes[start : start + MAX_WRITES]
            try:
                self.store.commit(chunk, [])
            except ConflictError:  # one product was edited meanwhile: the others go one by one
                for write in chunk:
                    try:
                        self.store.commit([write], [])
                    except ConflictError:
                        log.info("product %s changed during re-evaluation; its own write judged it", write.doc_id)
        return len(writes)
