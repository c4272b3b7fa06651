"""`brands`, `categories`, `attributes` and `product_templates`: named resources products refer
to. The functions share one shape, so one factory declares them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
from shared.domain.attributes import (
    AttributeDefinition,
    AttributeFields,
    AttributePatch,
    ProductTemplate,
    TemplateFields,
    TemplatePatch,
)
from shared.domain.catalog import Brand, BrandFields, BrandPatch, Category, CategoryFields, CategoryPatch
from shared.domain.models import Page
from shared.domain.tenancy import Scope
from shared.http import Api, Call, QueryParams, Reply
from shared.services.taxonomy import Taxonomy


class ListByNameQuery(QueryParams):
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


def taxonomy_api(
    name: str,
    base: str,
    service: Callable[[Scope], Taxonomy],
    model: type[BaseModel],
    fields: type[BaseModel],
    patch: type[BaseModel],
    noun: str | None = None,
    used_by: str = "nothing uses",
) -> Api:
    api = Api(name, tag=name.replace("_", " ").capitalize())
    noun = noun or {"brands": "brand", "categories": "category"}[name]
    one = f"{base}/<{noun}_id>"  # brand_id / category_id: generated clients name the argument after it
    label = noun.replace("_", " ")
    things = name.replace("_", " ")

    @api.route(base, "GET", query=ListByNameQuery, response=Page[model], summary=f"List {things}, sorted by name")  # type: ignore[valid-type]
    def list_all(call: Call) -> Reply:
        q = call.query(ListByNameQuery)
        return service(call.principal.scope).list(q.limit, q.cursor), 200

    @api.route(
        base, "POST", write=True, body=fields, response=model, status=201, errors=(409,), summary=f"Create a {label}"
    )
    def create(call: Call) -> Reply:
        return service(call.principal.scope).create(call.principal, call.body(fields)), 201

    @api.route(one, "GET", response=model, summary=f"One {label}")
    def get_one(call: Call, **path: str) -> Reply:
        (doc_id,) = path.values()
        return service(call.principal.scope).get(doc_id), 200

    @api.route(one, "PUT", write=True, body=patch, response=model, errors=(409,), summary=f"Change a {label}")
    def update(call: Call, **path: str) -> Reply:
        (doc_id,) = path.values()
        return service(call.principal.scope).update(call.principal, doc_id, call.body(patch)), 200

    @api.route(one, "DELETE", write=True, status=204, errors=(409,), summary=f"Delete a {label} {used_by}")
    def delete(call: Call, **path: str) -> Reply:
        (doc_id,) = path.values()
        service(call.principal.scope).delete(call.principal, doc_id)
        return None, 204

    # Operation ids name the resource, as generated clients name their methods after them.
    for handler, verb in (
        (list_all, "list"),
        (create, "create"),
        (get_one, "get"),
        (update, "update"),
        (delete, "delete"),
    ):
        handler.__name__ = f"{verb}_{name if verb == 'list' else noun}"
    return api


brands_api = taxonomy_api("brands", "/api/v1/pim/brands", wiring.brands, Brand, BrandFields, BrandPatch)
categories_api = taxonomy_api(
    "categories", "/api/v1/pim/categories", wiring.categories, Category, CategoryFields, CategoryPatch
)
attributes_api = taxonomy_api(
    "attributes",
    "/api/v1/pim/attributes",
    wiring.attributes,
    AttributeDefinition,
    AttributeFields,
    AttributePatch,
    noun="attribute",
    used_by="no template uses",
)
product_templates_api = taxonomy_api(
    "product_templates",
    "/api/v1/pim/product-templates",
    wiring.product_templates,
    ProductTemplate,
    TemplateFields,
    TemplatePatch,
    noun="product_template",
    used_by="no product uses",
)


@functions_framework.http
def brands(request: Any) -> Any:
    return brands_api(request)


@functions_framework.http
def categories(request: Any) -> Any:
    return categories_api(request)


@functions_framework.http
def attributes(request: Any) -> Any:
    return attributes_api(request)


@functions_framework.http
def product_templates(request: Any) -> Any:
    return product_templates_api(request)
