"""Catalog use cases: products and their variants, one record at a time. Each write commits the
change and its audit event together, and is optimistic: if the record moved between our read and
our write, we read again and retry a few times before answering 409."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from shared.domain.attributes import CatalogSchema
from shared.domain.audit import ChangeContext
from shared.domain.catalog import (
    Change,
    Collection,
    Product,
    ProductFields,
    ProductPatch,
    References,
    Variant,
    VariantFields,
    VariantPatch,
    add_variant,
    create_product,
    delete_product,
    find_variant,
    new_id,
    referenced_ids,
    remove_variant,
    update_product,
    update_variant,
)
from shared.domain.models import Page
from shared.domain.tenancy import Principal
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, SynqError
from shared.services.attributes import load_schema
from shared.services.ports import CatalogStore
from shared.services.quality import Quality

log = logging.getLogger(__name__)

OPTIMISTIC_ATTEMPTS = 3
R = TypeVar("R")


@dataclass
class Catalog:
    store: CatalogStore
    quality: Quality
    clock: Callable[[], datetime]

    def context(self, actor: Principal) -> ChangeContext:
        return ChangeContext(actor.scope.tenant_id, actor.scope.org_id, actor.email, self.clock())

    # --- products --------------------------------------------------------------------------
    def create_product(self, actor: Principal, fields: ProductFields) -> Product:
        self._check_references(fields.model_dump())
        schema = self._schema(fields.template_id, fields.attributes)
        change = create_product(fields, new_id(), self.context(actor), schema=schema)
        self.store.commit([change.write], [change.event])
        self._evaluate(change.write.doc_id)
        return Product.model_validate(change.write.data)

    def get_product(self, product_id: str) -> Product:
        product: Product = self.store.get(Collection.PRODUCTS, product_id)[0]
        return product

    def list_products(self, limit: int, cursor: str | None) -> Page[Product]:
        return self.store.list_products(limit, cursor)

    def update_product(self, actor: Principal, product_id: str, patch: ProductPatch) -> Product:
        changes = patch.changes()
        if not changes:
            raise InvalidArgumentError("nothing to change", [FieldProblem("body", "give at least one field")])
        self._check_references(changes)

        def attempt() -> tuple[Product, list[Change]]:
            product, version = self.store.get(Collection.PRODUCTS, product_id)
            template_id = changes.get("template_id", product.template_id)
            schema = self._schema(template_id, changes.get("attributes"))
            updated, change = update_product(product, version, changes, self.context(actor), schema=schema)
            return (updated, [change]) if change.event.changes else (product, [])

        return self._evaluated(product_id, self._optimistically(attempt))

    def delete_product(self, actor: Principal, product_id: str) -> None:
        def attempt() -> tuple[None, list[Change]]:
            product, version = self.store.get(Collection.PRODUCTS, product_id)
            return None, [delete_product(product, version, self.context(actor))]

        self._evaluated(product_id, self._optimistically(attempt))

    # --- variants --------------------------------------------------------------------------
    def add_variant(self, actor: Principal, product_id: str, fields: VariantFields) -> Variant:
        variant_id = new_id()

        def attempt() -> tuple[Variant, list[Change]]:
            product, version = self.store.get(Collection.PRODUCTS, product_id)
            variant, change = add_variant(product, version, fields, variant_id, self.context(actor))
            return variant, [change]

        return self._evaluated(product_id, self._optimistically(attempt))

    def list_variants(self, product_id: str) -> list[Variant]:
        return self.get_product(product_id).variants

    def get_variant(self, product_id: str, variant_id: str) -> Variant:
        return find_variant(self.get_product(product_id), variant_id)

    def update_variant(self, actor: Principal, product_id: str, variant_id: str, patch: VariantPatch) -> Variant:
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            raise InvalidArgumentError("nothing to change", [FieldProblem("body", "give at least one field")])

        def attempt() -> tuple[Variant, list[Change]]:
            product, version = self.store.get(Collection.PRODUCTS, product_id)
            variant, change = update_variant(product, version, variant_id, changes, self.context(actor))
            return variant, [change] if change else []

        return self._evaluated(product_id, self._optimistically(attempt))

    def delete_variant(self, actor: Principal, product_id: str, variant_id: str) -> None:
        def attempt() -> tuple[None, list[Change]]:
            product, version = self.store.get(Collection.PRODUCTS, product_id)
            return None, [remove_variant(product, version, variant_id, self.context(actor))]

        self._evaluated(product_id, self._optimistically(attempt))

    # --- helpers ---------------------------------------------------------------------------
    def _evaluated(self, product_id: str, result: R) -> R:
        self._evaluate(product_id)
        return result

    def _evaluate(self, product_id: str) -> None:
        """Judge the product afresh. The change is already committed: if judging fails now, the
        scheduled sweep brings its issues up to date, so the request still succeeds."""
        try:
            self.quality.evaluate([product_id])
        except SynqError as exc:
            log.warning("evaluating product %s after a change failed (the sweep will): %s", product_id, exc)

    def _schema(self, template_id: str | None, attributes: dict[str, Any] | None) -> CatalogSchema:
        """The definitions and the product's template; a 400 naming each attribute whose value
        does not fit its definition."""
        schema = load_schema(self.store, [template_id])
        if problems := schema.attribute_problems(attributes):
            raise InvalidArgumentError("attribute values do not fit their definitions", problems)
        return schema

    def _check_references(self, fields: dict[str, Any]) -> None:
        brand_ids, category_ids = referenced_ids([fields])
        template_id = fields.get("template_id")
        known = References(
            brands=frozenset(i for i in brand_ids if self.store.exists(Collection.BRANDS, i)),
            categories=frozenset(i for i in category_ids if self.store.exists(Collection.CATEGORIES, i)),
            templates=frozenset(
                [template_id] if template_id and self.store.exists(Collection.TEMPLATES, template_id) else []
            ),
        )
        if problems := known.problems(fields):
            raise InvalidArgumentError("unknown reference", [FieldProblem(f, p) for f, p in problems])

    def _optimistically(self, attempt: Callable[[], tuple[R, list[Change]]]) -> R:
        """Read, decide, write with the version read; on a concurrent change, start over."""
        for _ in range(OPTIMISTIC_ATTEMPTS):
            result, changes = attempt()
            if not changes:
                return result
            try:
                self.store.commit([c.write for c in changes], [c.event for c in changes])
            except ConflictError:
                continue
            return result
        raise ConflictError("the record kept changing while we wrote it; try again")
