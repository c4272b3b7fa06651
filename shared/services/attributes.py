"""Attribute definitions and product templates: the rules of writing them (beyond a named
resource's), the schema the catalog is judged by, and starting the re-evaluation of the products
a change of either affects (shared/services/reevaluation.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.domain.attributes import (
    AttributeDefinition,
    AttributeFields,
    CatalogSchema,
    ProductTemplate,
    TemplateFields,
)
from shared.domain.catalog import Collection, name_key
from shared.domain.tenancy import Scope
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, invalid
from shared.services.ports import CatalogStore, TaskQueue
from shared.services.tasks import ReevaluationTask

# What a definition's values are judged by: a change of anything else leaves every product as it was.
JUDGED_FIELDS = ("slug", "type", "min", "max", "options")


def load_schema(store: CatalogStore, template_ids: Iterable[str | None] = ()) -> CatalogSchema:
    """The org's definitions (one read of the whole, small collection) and the named templates."""
    wanted = sorted({t for t in template_ids if t})
    definitions: list[AttributeDefinition] = store.all_of(Collection.ATTRIBUTES)
    templates = store.get_many(Collection.TEMPLATES, wanted) if wanted else {}
    return CatalogSchema(
        definitions={d.slug: d for d in definitions},
        templates={tid: template for tid, (template, _) in templates.items()},
    )


class Reevaluations:
    """Starts the background re-evaluation of the products a definition or template change affects."""

    def __init__(self, scope: Scope, queue: TaskQueue | None) -> None:
        self.scope, self.queue = scope, queue

    def start(self, template_id: str | None = None) -> None:
        """All products (a definition changed), or those of one template."""
        if self.queue is None:
            return
        run = str(uuid.uuid4())
        task = ReevaluationTask.first(self.scope, run, template_id)
        self.queue.enqueue(task.name, task.to_body())


@dataclass
class AttributeGuard:
    """The rules of attribute definitions a named resource does not have."""

    store: CatalogStore
    reevaluations: Reevaluations

    def check(self, data: dict[str, Any], current: AttributeDefinition | None) -> None:
        if current is None:
            return  # the create model checked the definition whole
        try:
            AttributeFields.model_validate(
                {k: v for k, v in data.items() if k in AttributeFields.model_fields and k != "id"}
            )
        except ValidationError as exc:
            raise invalid("invalid attribute definition", exc) from exc
        if data["slug"] != current.slug and self._used(current.slug):
            raise ConflictError(f"the slug {current.slug!r} is in use by products or templates; it cannot change")

    def check_delete(self, current: AttributeDefinition) -> None:
        if self.store.is_listed(Collection.TEMPLATES, "attribute_slugs", current.slug):
            raise ConflictError("the attribute cannot be deleted: a product template uses it")

    def changed(self, before: AttributeDefinition | None, after: AttributeDefinition | None) -> None:
        """A definition created or deleted, or changed in what values are judged by: stored
        values may fit it no longer (or again), so every product is judged again."""
        if before is None or after is None or any(getattr(before, f) != getattr(after, f) for f in JUDGED_FIELDS):
            self.reevaluations.start()

    def _used(self, slug: str) -> bool:
        return self.store.has_attribute(slug) or self.store.is_listed(Collection.TEMPLATES, "attribute_slugs", slug)


@dataclass
class TemplateGuard:
    """Templates name defined attributes only; a change re-evaluates the template's products."""

    store: CatalogStore
    reevaluations: Reevaluations

    def check(self, data: dict[str, Any], current: ProductTemplate | None) -> None:
        # Judged as the whole template it leaves; a patch's groups may leave out what has a default
        # (a group given without `attributes`), which only the model fills in.
        try:
            fields = TemplateFields.model_validate({k: v for k, v in data.items() if k in TemplateFields.model_fields})
        except ValidationError as exc:
            raise invalid("invalid product template", exc) from exc
        problems = [
            FieldProblem(f"attribute_groups[{g}].attributes[{a}].slug", f"no attribute {attribute.slug!r}")
            for g, group in enumerate(fields.attribute_groups)
            for a, attribute in enumerate(group.attributes)
            if not self.store.exists(Collection.ATTRIBUTE_SLUGS, name_key(attribute.slug))
        ]
        if problems:
            raise InvalidArgumentError("unknown attribute", problems)

    def check_delete(self, current: ProductTemplate) -> None:
        return None  # products using it: Taxonomy's USED_BY

    def changed(self, before: ProductTemplate | None, after: ProductTemplate | None) -> None:
        if before is not None and after is not None and before.attribute_groups != after.attribute_groups:
            self.reevaluations.start(after.id)
