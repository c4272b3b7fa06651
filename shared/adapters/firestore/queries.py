"""Every Firestore query that production serves from a composite index, declared once.

The emulator runs any query without an index; production refuses one it has no index for
(FAILED_PRECONDITION). So the adapters build each such query from its declaration here, never by
hand, and a test holds `infra/firestore.indexes.json` to these declarations: each shape a
declaration can take (its equality filters, any subset of the optional ones, then its order) must
be served by an index in the file (tests/unit/test_deploy_dry_run.py). The other queries the
adapters make (one equality filter, or order by document id) are served by Firestore's automatic
single-field indexes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

Direction = Literal["ASCENDING", "DESCENDING"]
Scope = Literal["COLLECTION", "COLLECTION_GROUP"]
ASC: Direction = "ASCENDING"
DESC: Direction = "DESCENDING"
DOCUMENT_ID = "__name__"
_DIRECTIONS = {ASC: firestore.Query.ASCENDING, DESC: firestore.Query.DESCENDING}

NEWEST_FIRST: tuple[tuple[str, Direction], ...] = (("created_at", DESC), ("id", DESC))
OLDEST_UPDATE_FIRST: tuple[tuple[str, Direction], ...] = (("updated_at", ASC), (DOCUMENT_ID, ASC))


@dataclass(frozen=True)
class IndexedQuery:
    """Equality filters on `equals` (always) and on any subset of `optional_equals`, an optional
    range filter on the first field of `order`, then `order`."""

    collection_group: str
    order: tuple[tuple[str, Direction], ...]
    equals: tuple[str, ...] = ()
    optional_equals: tuple[str, ...] = ()
    scope: Scope = "COLLECTION"

    def shapes(self) -> Iterator[tuple[frozenset[str], tuple[tuple[str, Direction], ...]]]:
        """(equality fields, order) of every query this declaration can build."""
        for n in range(len(self.optional_equals) + 1):
            for chosen in combinations(self.optional_equals, n):
                yield frozenset(self.equals) | frozenset(chosen), self.order

    def build(self, source: Any, equals: Mapping[str, Any], range_filter: tuple[str, Any] | None = None) -> Any:
        """The query on `source` (a collection reference; the client for a collection-group
        query). A list value filters with `in`; `range_filter` is (operator, value) on the first
        order field."""
        if self.scope == "COLLECTION_GROUP":
            query = source.collection_group(self.collection_group)
        elif source.id == self.collection_group:
            query = source
        else:
            raise ValueError(f"{self.collection_group} query built on collection {source.id}")
        given, allowed = set(equals), {*self.equals, *self.optional_equals}
        if not set(self.equals) <= given <= allowed:
            raise ValueError(f"{self.collection_group}: filters {sorted(given)} are not a declared shape")
        for field in sorted(equals):
            value = equals[field]
            query = query.where(filter=FieldFilter(field, "in" if isinstance(value, list) else "==", value))
        if range_filter is not None:
            query = query.where(filter=FieldFilter(self.order[0][0], *range_filter))
        for field, direction in self.order:
            query = query.order_by(field, direction=_DIRECTIONS[direction])
        return query


JOBS_OF_TYPE = IndexedQuery("bulk_jobs", NEWEST_FIRST, equals=("job_type",))
# GET /stats: the jobs created since a moment, newest first (one field: no composite index).
RECENT_JOBS = IndexedQuery("bulk_jobs", (("created_at", DESC),))
BATCHES_WITH_ERRORS = IndexedQuery("batches", (("index", ASC),), equals=("has_errors",))
PRODUCTS = IndexedQuery("products", NEWEST_FIRST)
EXPORTS = IndexedQuery("exports", NEWEST_FIRST)
BRANDS_BY_NAME = IndexedQuery("brands", (("name", ASC), ("id", ASC)))
CATEGORIES_BY_NAME = IndexedQuery("categories", (("name", ASC), ("id", ASC)))
AUDIT_EVENTS = IndexedQuery("audit_events", NEWEST_FIRST, optional_equals=("action", "resource_id", "resource_type"))
OPEN_ISSUES = IndexedQuery(
    "validation_issues", NEWEST_FIRST, equals=("resolved",), optional_equals=("code", "product_id", "severity")
)
# The watchdog's: every tenant's stalled records, oldest update first.
STALLED_JOBS = IndexedQuery("bulk_jobs", OLDEST_UPDATE_FIRST, equals=("status",), scope="COLLECTION_GROUP")
STALLED_EXPORTS = IndexedQuery("exports", OLDEST_UPDATE_FIRST, equals=("status",), scope="COLLECTION_GROUP")
STALLED_NOTIFICATIONS = IndexedQuery(
    "exports", OLDEST_UPDATE_FIRST, equals=("notification.status",), scope="COLLECTION_GROUP"
)
STALLED_JOB_NOTIFICATIONS = IndexedQuery(
    "bulk_jobs", OLDEST_UPDATE_FIRST, equals=("notification.status",), scope="COLLECTION_GROUP"
)

INDEXED_QUERIES = {name: value for name, value in globals().items() if isinstance(value, IndexedQuery)}
