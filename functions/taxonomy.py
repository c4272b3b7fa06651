"""`brands` and `categories`: named resources products refer to by id. The two functions share
one shape, so one factory declares both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
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
) -> Api:
    api = Api(name, tag=name.capitalize())
    noun = {"brands": "brand", "categories": "category"}[name]
    one = f"{base}/<{noun}_id>"  # brand_id / category_id: generated clients name the argument after it

    @api.route(base, "GET", query=ListByNameQuery, response=Page[model], summary=f"List {name}, sorted by name")  # type: ignore[valid-type]
    def list_all(call: Call) -> Reply:
        q = call.query(ListByNameQuery)
        return service(call.principal.scope).list(q.limit, q.cursor), 200

    @api.route(
        base, "POST", write=True, body=fields, response=model, status=201, errors=(409,), summary=f"Create a {noun}"
    )
    def create(call: Call) -> Reply:
        return service(call.principal.scope).create(call.principal, call.body(fields)), 201

    @api.route(one, "GET", response=model, summary=f"One {noun}")
    def get_one(call: Call, **path: str) -> Reply:
        (doc_id,) = path.values()
        return service(call.principal.scope).get(doc_id), 200

    @api.route(one, "PUT", write=True, body=patch, response=model, errors=(409,), summary=f"Change a {noun}")
    def update(call: Call, **path: str) -> Reply:
        (doc_id,) = path.values()
        return service(call.principal.scope).update(call.principal, doc_id, call.body(patch)), 200

    @api.route(one, "DELETE", write=True, status=204, errors=(409,), summary=f"Delete a {noun} nothing uses")
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


@functions_framework.http
def brands(request: Any) -> Any:
    return brands_api(request)


@functions_framework.http
def categories(request: Any) -> Any:
    return categories_api(request)
