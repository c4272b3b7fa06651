"""Catalog counters, kept up to date by the writes they count.

Every write that changes a counted value (a product's status or data-quality score, a quality
summary's open issues) carries the counters' deltas, computed here from the record before and
after, and commits them with itself as server-side increments. So the counters are exactly as
fresh as the data, a failed write moves nothing, and a write that commits once (a batch behind its
marker, a version-checked update) counts once. Pure: the store decides where the deltas go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # catalog and quality import this module at run time
    from shared.domain.catalog import Product
    from shared.domain.quality import QualitySummary

# A counter is a path of names inside the counter documents: ("products", "ACTIVE"),
# ("score", "7"), ("issues", "MISSING_SKU", "WARNING"), ("blocked",).
CounterPath = tuple[str, ...]
Deltas = dict[CounterPath, int]

PRODUCTS = "products"
SCORE = "score"
UNSCORED = "none"  # a product stored before scores existed
ISSUES = "issues"
BLOCKED = "blocked"
SCORE_BUCKETS = 10


def score_bucket(score: int) -> int:
    """0-9: tens of the score, 100 in the top bucket with 90-99."""
    return min(max(score, 0) // 10, SCORE_BUCKETS - 1)


def product_deltas(before: Product | None, after: Product | None) -> Deltas:
    """What a product write moves: its status and score bucket leave with `before` and arrive
    with `after` (None: the product did not exist / no longer exists)."""
    counts: Counter[CounterPath] = Counter()
    for product, sign in ((before, -1), (after, 1)):
        if product is not None:
            for path in product_paths(str(product.status), product.data_quality_score):
                counts[path] += sign
    return _nonzero(counts)


def product_paths(status: str, score: int | None) -> list[CounterPath]:
    """The counters one product with this status and score adds 1 to."""
    return [(PRODUCTS, status), (SCORE, UNSCORED if score is None else str(score_bucket(score)))]


def summary_deltas(before: QualitySummary | None, after: QualitySummary | None) -> Deltas:
    """What replacing a product's quality summary moves: its open issues by code and severity,
    and whether an open ERROR keeps it out of exports."""
    counts: Counter[CounterPath] = Counter()
    for summary, sign in ((before, -1), (after, 1)):
        if summary is None:
            continue
        for issue in summary.open:
            counts[(ISSUES, issue.code, str(issue.severity))] += sign
        if summary.blocks_export:
            counts[(BLOCKED,)] += sign
    return _nonzero(counts)


def drift(recounted: Mapping[CounterPath, int], counted: Mapping[CounterPath, int]) -> Deltas:
    """What adding to the counters makes them the recount (both as of one moment)."""
    return _nonzero({path: recounted.get(path, 0) - counted.get(path, 0) for path in {*recounted, *counted}})


def combined(deltas: Iterable[Mapping[CounterPath, int]]) -> Deltas:
    """Several writes' deltas as one (what one commit adds to the counters)."""
    total: Counter[CounterPath] = Counter()
    for d in deltas:
        total.update(d)
    return _nonzero(total)


def _nonzero(counts: Mapping[CounterPath, int]) -> Deltas:
    return {path: n for path, n in counts.items() if n}


def flatten(document: Mapping[str, Any], prefix: CounterPath = ()) -> Deltas:
    """A counter document's nested maps as counter paths (what shards hold is summed this way)."""
    found: Deltas = {}
    for key, value in document.items():
        if isinstance(value, Mapping):
            found.update(flatten(value, (*prefix, key)))
        elif isinstance(value, int) and not isinstance(value, bool):
            found[(*prefix, key)] = value
    return found
