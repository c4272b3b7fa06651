"""`products`: the catalog one record at a time, products and their variants."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
from shared.domain.catalog import Product, ProductFields, ProductPatch, Variant, VariantFields, VariantPatch
from shared.domain.models import Page
from shared.http import Api, Call, QueryParams, Reply

api = Api("products", tag="Products")
BASE = "/api/v1/pim/products"
ONE = f"{BASE}/<product_id>"
VARIANTS = f"{ONE}/variants"


class ListProductsQuery(QueryParams):
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


class VariantList(BaseModel):
    items: list[Variant]


@api.route(BASE, "GET", query=ListProductsQuery, response=Page[Product], summary="List products, newest first")
def list_products(call: Call) -> Reply:
    q = call.query(ListProductsQuery)
    return wiring.catalog(call.principal.scope).list_products(q.limit, q.cursor), 200


@api.route(
    BASE,
    "POST",
    write=True,
    body=ProductFields,
    response=Product,
    status=201,
    summary="Create a product (only title required; status ACTIVE by default)",
)
def create_product(call: Call) -> Reply:
    return wiring.catalog(call.principal.scope).create_product(call.principal, call.body(ProductFields)), 201


@api.route(ONE, "GET", response=Product, summary="One product, with its variants")
def get_product(call: Call, product_id: str) -> Reply:
    return wiring.catalog(call.principal.scope).get_product(product_id), 200


@api.route(
    ONE,
    "PUT",
    write=True,
    body=ProductPatch,
    response=Product,
    errors=(409,),
    summary="Change the given fields of a product (null clears a field)",
)
def update_product(call: Call, product_id: str) -> Reply:
    patch = call.body(ProductPatch)
    return wiring.catalog(call.principal.scope).update_product(call.principal, product_id, patch), 200


@api.route(ONE, "DELETE", write=True, status=204, errors=(409,), summary="Delete a product and its variants")
def delete_product(call: Call, product_id: str) -> Reply:
    wiring.catalog(call.principal.scope).delete_product(call.principal, product_id)
    return None, 204


@api.route(VARIANTS, "GET", response=VariantList, tag="Variants", summary="A product's variants")
def list_variants(call: Call, product_id: str) -> Reply:
    return VariantList(items=wiring.catalog(call.principal.scope).list_variants(product_id)), 200


@api.route(
    VARIANTS,
    "POST",
    write=True,
    body=VariantFields,
    response=Variant,
    status=201,
    tag="Variants",
    errors=(409,),
    summary="Add a variant (price as a number, returned as a decimal string; ISO 4217 currency)",
)
def create_variant(call: Call, product_id: str) -> Reply:
    fields = call.body(VariantFields)
    return wiring.catalog(call.principal.scope).add_variant(call.principal, product_id, fields), 201


@api.route(f"{VARIANTS}/<variant_id>", "GET", response=Variant, tag="Variants", summary="One variant")
def get_variant(call: Call, product_id: str, variant_id: str) -> Reply:
    return wiring.catalog(call.principal.scope).get_variant(product_id, variant_id), 200


@api.route(
    f"{VARIANTS}/<variant_id>",
    "PUT",
    write=True,
    body=VariantPatch,
    response=Variant,
    tag="Variants",
    errors=(409,),
    summary="Change the given fields of a variant",
)
def update_variant(call: Call, product_id: str, variant_id: str) -> Reply:
    patch = call.body(VariantPatch)
    return wiring.catalog(call.principal.scope).update_variant(call.principal, product_id, variant_id, patch), 200


@api.route(
    f"{VARIANTS}/<variant_id>",
    "DELETE",
    write=True,
    status=204,
    tag="Variants",
    errors=(409,),
    summary="Delete a variant",
)
def delete_variant(call: Call, product_id: str, variant_id: str) -> Reply:
    wiring.catalog(call.principal.scope).delete_variant(call.principal, product_id, variant_id)
    return None, 204


@functions_framework.http
def products(request: Any) -> Any:
    return api(request)
