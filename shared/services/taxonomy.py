"""Brand, category, attribute-definition and product-template use cases: named resources,
unique by name (a category's name is unique among its siblings) and, for brands and
categories, by slug too (within the tenant's org); definitions and templates are unique by
their slug. Categories nest by `parent_id`. Products refer to them, so one in use cannot be
deleted. A resource with rules of its own (definitions, templates) has a guard that checks
them and hears of each committed change.

Uniqueness is exact under concurrent writes: the name's and the slug's index documents are
created in the same commit as the resource, and a create fails if its document exists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from shared.domain.audit import ChangeContext
from shared.domain.catalog import CATEGORIES, Collection, Taxon, create_named, delete_named, new_id, update_named
from shared.domain.models import Page
from shared.domain.slugs import MAX_SUFFIX, derived_slug, slug_candidates
from shared.domain.tenancy import Principal
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, NotFoundError
from shared.services.ports import CatalogStore

MAX_DEPTH = 10
# A derived slug taken by a concurrent create between our check and our commit is derived again.
DERIVED_SLUG_ATTEMPTS = 3
USED_BY = {
    "brand": [(Collection.PRODUCTS, "brand_id", "products use it")],
    "category": [
        (Collection.CATEGORIES, "parent_id", "it has subcategories"),
        (Collection.PRODUCTS, "category_id", "products use it"),
    ],
    "attribute": [],
    "product template": [(Collection.PRODUCTS, "template_id", "products use it")],
}


class Guard(Protocol):
    def check(self, data: Any, current: Any) -> None:
        """Refuse a create (current None) or change that breaks the resource's own rules."""
        ...

    def check_delete(self, current: Any) -> None: ...

    def changed(self, before: Any, after: Any) -> None:
        """A change committed (before None: created; after None: deleted)."""
        ...


@dataclass
class Taxonomy:
    store: CatalogStore
    clock: Callable[[], datetime]
    taxon: Taxon
    guard: Guard | None = None

    def context(self, actor: Principal) -> ChangeContext:
        return ChangeContext(actor.scope.tenant_id, actor.scope.org_id, actor.email, self.clock())

    def create(self, actor: Principal, fields: BaseModel) -> Any:
        data = fields.model_dump()
        self._check_parent(data.get("parent_id"), None)
        self._check_name_free(data)
        if self.guard:
            self.guard.check(data, None)
        resource = self._commit_new(actor, fields, data)
        if self.guard:
            self.guard.changed(None, resource)
        return resource

    def _commit_new(self, actor: Principal, fields: BaseModel, data: dict[str, Any]) -> Any:
        if self.taxon.slugs is None:  # the slug is the key itself (definitions, templates)
            resource, writes, event = create_named(self.taxon, fields, new_id(), self.context(actor))
            try:
                self.store.commit(writes, [event])
            except ConflictError as exc:  # taken by a concurrent create
                raise self._name_taken(data) from exc
            return resource
        slugs, given = self.taxon.slugs, data["slug"]
        if given:
            self._check_slug_free(slugs, given)
        for _ in range(DERIVED_SLUG_ATTEMPTS):
            slug = given or self._free_slug(slugs, data["name"])
            named = fields.model_copy(update={"slug": slug})
            resource, writes, event = create_named(self.taxon, named, new_id(), self.context(actor))
            try:
                self.store.commit(writes, [event])
            except ConflictError as exc:  # the name or the slug was taken by a concurrent create
                if given or self.store.exists(self.taxon.names, self.taxon.key(data)):
                    raise self._taken({**data, "slug": slug}) from exc
                continue  # a derived slug: derive again, past the one just taken
            return resource
        raise ConflictError(f"the {self.taxon.noun}'s slug kept being taken meanwhile; try again, or give a slug")

    def get(self, doc_id: str) -> Any:
        return self.store.get(self.taxon.collection, doc_id)[0]

    def list(self, limit: int, cursor: str | None) -> Page[Any]:
        return self.store.list_by_name(self.taxon.collection, limit, cursor)

    def update(self, actor: Principal, doc_id: str, patch: BaseModel) -> Any:
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            raise InvalidArgumentError("nothing to change", [FieldProblem("body", "give at least one field")])
        if cleared := [f for f in ("name", "slug") if f in changes and changes[f] is None]:
            raise InvalidArgumentError("invalid request body", [FieldProblem(f, "cannot be cleared") for f in cleared])
        current, version = self.store.get(self.taxon.collection, doc_id)
        merged = {**current.model_dump(), **changes}
        if "parent_id" in changes:
            self._check_parent(changes["parent_id"], doc_id)
        if self.taxon.key(merged) != self.taxon.key(current.model_dump()):
            self._check_name_free(merged)
        if self.taxon.slugs and changes.get("slug") and changes["slug"] != current.slug:
            self._check_slug_free(self.taxon.slugs, changes["slug"])
        if self.guard:
            self.guard.check(merged, current)
        updated, writes, event = update_named(self.taxon, current, version, changes, self.context(actor))
        if event is not None:
            try:
                self.store.commit(writes, [event])
            except ConflictError as exc:
                raise ConflictError(
                    f"the {self.taxon.noun} changed meanwhile or its new name or slug was taken; try again"
                ) from exc
            if self.guard:
                self.guard.changed(current, updated)
        return updated

    def delete(self, actor: Principal, doc_id: str) -> None:
        current, version = self.store.get(self.taxon.collection, doc_id)
        for collection, field, reason in USED_BY[self.taxon.noun]:
            if self.store.is_referenced(collection, field, doc_id):
                raise ConflictError(f"the {self.taxon.noun} cannot be deleted: {reason}")
        if self.guard:
            self.guard.check_delete(current)
        writes, event = delete_named(self.taxon, current, version, self.context(actor))
        try:
            self.store.commit(writes, [event])
        except ConflictError as exc:
            raise ConflictError(f"the {self.taxon.noun} changed meanwhile; try again") from exc
        if self.guard:
            self.guard.changed(current, None)

    def _check_name_free(self, data: dict[str, Any]) -> None:
        if self.store.exists(self.taxon.names, self.taxon.key(data)):
            raise self._name_taken(data)

    def _check_slug_free(self, slugs: Collection, slug: str) -> None:
        if self.store.exists(slugs, slug):
            raise self._slug_taken(slug)

    def _free_slug(self, slugs: Collection, name: str) -> str:
        """The first free of the name's slug, then `-2`, `-3`, ...: deterministic for a given
        order of creates."""
        for candidate in slug_candidates(derived_slug(name, self.taxon.noun)):
            if not self.store.exists(slugs, candidate):
                return candidate
        raise ConflictError(
            f"the slugs derived from {name!r} are taken (up to -{MAX_SUFFIX}); give the {self.taxon.noun} a slug"
        )

    def _taken(self, data: dict[str, Any]) -> ConflictError:
        """Why a commit that created the name's and the slug's index documents failed."""
        if self.store.exists(self.taxon.names, self.taxon.key(data)):
            return self._name_taken(data)
        return self._slug_taken(data["slug"])

    def _slug_taken(self, slug: str) -> ConflictError:
        return ConflictError(f"a {self.taxon.noun} with the slug {slug!r} already exists")

    def _name_taken(self, data: dict[str, Any]) -> ConflictError:
        where = " in that parent" if data.get("parent_id") else ""
        named = "named" if self.taxon.key_field == "name" else f"with the {self.taxon.key_field}"
        return ConflictError(f"a {self.taxon.noun} {named} {data[self.taxon.key_field]!r} already exists{where}")

    def _check_parent(self, parent_id: str | None, doc_id: str | None) -> None:
        """The parent exists, and (for a move) is not the category itself or one of its descendants."""
        if self.taxon is not CATEGORIES or parent_id is None:
            return
        ancestor: str | None = parent_id
        for _ in range(MAX_DEPTH):
            if ancestor is None:
                return
            if ancestor == doc_id:
                raise InvalidArgumentError(
                    "a category cannot be its own ancestor", [FieldProblem("parent_id", "would create a cycle")]
                )
            try:
                ancestor = self.store.get(CATEGORIES.collection, ancestor)[0].parent_id
            except NotFoundError as exc:
                raise InvalidArgumentError(
                    "unknown reference", [FieldProblem("parent_id", "no such category")]
                ) from exc
        raise InvalidArgumentError(
            "categories nest too deep", [FieldProblem("parent_id", f"at most {MAX_DEPTH} levels")]
        )
