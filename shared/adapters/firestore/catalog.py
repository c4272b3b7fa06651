"""Products (variants embedded), brands and categories in Firestore. Every write goes through
`commit`, which applies the changes and their audit events in one atomic write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from shared.adapters.firestore import queries, wire
from shared.adapters.firestore.base import (
    TEXT,
    TenantRoot,
    decode_cursor,
    encode_cursor,
    in_id_order,
    newest_first,
    newest_first_page,
)
from shared.adapters.firestore.stats import DEFAULT_SHARDS, counter_writes
from shared.adapters.google_errors import translated
from shared.domain.attributes import AttributeDefinition, ProductTemplate
from shared.domain.audit import AuditEvent
from shared.domain.catalog import Brand, Category, Collection, Product, Write
from shared.domain.counters import combined
from shared.domain.models import Page
from shared.domain.tenancy import Scope
from shared.errors import NotFoundError

MODELS: dict[Collection, Any] = {
    Collection.PRODUCTS: Product,
    Collection.BRANDS: Brand,
    Collection.CATEGORIES: Category,
    Collection.ATTRIBUTES: AttributeDefinition,
    Collection.TEMPLATES: ProductTemplate,
}
NOUNS = {
    Collection.PRODUCTS: "product",
    Collection.BRANDS: "brand",
    Collection.CATEGORIES: "category",
    Collection.ATTRIBUTES: "attribute",
    Collection.TEMPLATES: "product template",
}
BY_NAME = {
    Collection.BRANDS: queries.BRANDS_BY_NAME,
    Collection.CATEGORIES: queries.CATEGORIES_BY_NAME,
    Collection.ATTRIBUTES: queries.ATTRIBUTES_BY_NAME,
    Collection.TEMPLATES: queries.TEMPLATES_BY_NAME,
}


class FirestoreCatalogStore:
    """Implements CatalogStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope, stats_shards: int = DEFAULT_SHARDS) -> None:
        self._root = TenantRoot(client, scope)
        self._client = client
        self._shards = stats_shards

    def get(self, collection: Collection, doc_id: str) -> tuple[Any, Any]:
        """The resource and its version, or NotFoundError."""
        with translated(NOUNS[collection]):
            snap = self._root.collection(collection).document(doc_id).get()
        if not snap.exists:
            raise NotFoundError(f"{NOUNS[collection]} not found")
        return MODELS[collection].model_validate(snap.to_dict()), snap.update_time

    def get_many(self, collection: Collection, doc_ids: list[str]) -> dict[str, tuple[Any, Any]]:
        """The existing ones among the ids, each with its version."""
        if not doc_ids:
            return {}
        paths = [self._root.path(collection, i) for i in doc_ids]
        with translated(NOUNS[collection]):
            found = wire.get_all(self._client, paths)
        model = MODELS[collection]
        return {d.id: (model.model_validate(d.data), d.update_time) for d in found}

    def exists(self, collection: Collection, doc_id: str) -> bool:
        with translated("catalog"):
            return bool(self._root.collection(collection).document(doc_id).get().exists)

    def list_products(self, limit: int, cursor: str | None) -> Page[Product]:
        with translated("products"):
            docs = newest_first(queries.PRODUCTS, self._root.collection(Collection.PRODUCTS), limit, cursor)
            return newest_first_page(Product, docs, limit)

    def list_by_name(self, collection: Collection, limit: int, cursor: str | None) -> Page[Any]:
        """Brands, categories, attributes or templates sorted by name, then id."""
        query = BY_NAME[collection].build(self._root.collection(collection), {})
        if cursor:
            name, doc_id = decode_cursor(cursor, TEXT, TEXT)
            query = query.start_after({"name": name, "id": doc_id})
        with translated(NOUNS[collection]):
            found = [MODELS[collection].model_validate(s.to_dict()) for s in query.limit(limit + 1).stream()]
        items = found[:limit]
        more = len(found) > limit
        return Page[Any](items=items, next_cursor=encode_cursor([items[-1].name, items[-1].id]) if more else None)

    def is_referenced(self, collection: Collection, field: str, value: str) -> bool:
        """Whether any document of the collection has `field == value`."""
        query = self._root.collection(collection).where(filter=FieldFilter(field, "==", value)).limit(1)
        with translated("catalog"):
            return any(True for _ in query.stream())

    def all_of(self, collection: Collection) -> list[Any]:
        model = MODELS[collection]
        with translated(NOUNS[collection]):
            return [
                model.model_validate(s.to_dict())
                for s in self._root.collection(collection).order_by("__name__").stream()
            ]

    def is_listed(self, collection: Collection, field: str, value: str) -> bool:
        query = self._root.collection(collection).where(filter=FieldFilter(field, "array_contains", value)).limit(1)
        with translated("catalog"):
            return any(True for _ in query.stream())

    def has_attribute(self, slug: str) -> bool:
        # `!= None` reads as "has a non-null value"; slugs may hold `-`, so the path is quoted.
        path = FieldPath("attributes", slug).to_api_repr()
        query = self._root.collection(Collection.PRODUCTS).where(filter=FieldFilter(path, "!=", None)).limit(1)
        with translated("products"):
            return any(True for _ in query.select(["id"]).stream())

    def products_from(self, after: str | None, template_id: str | None = None) -> Iterator[tuple[Product, Any]]:
        products = self._root.collection(Collection.PRODUCTS)
        # Equality and id order: served by the single-field index.
        query = products.where(filter=FieldFilter("template_id", "==", template_id)) if template_id else None
        return ((Product.model_validate(s.to_dict()), s.update_time) for s in in_id_order(products, after, query))

    def commit(self, writes: list[Write], events: list[AuditEvent]) -> None:
        """Apply the writes and their audit events atomically, with what they move of the catalog
        counters (ConflictError if a version moved or a created document exists)."""
        batch = self._client.batch()
        counts = combined(w.counts for w in writes)
        key = writes[0].doc_id if writes else ""
        wire.stage(batch, [*self._root.encode(writes, events), *counter_writes(self._root, counts, key, self._shards)])
        with translated("catalog"):
            batch.commit()
