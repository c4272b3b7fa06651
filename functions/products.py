"""`products`: read the catalog the bulk jobs act on."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, Field

from shared import wiring
from shared.domain.models import Page, Product
from shared.http import Api, Call, Reply

api = Api("products")
BASE = "/api/v1/pim/products"


class ListProductsQuery(BaseModel):
    limit: int = Field(100, ge=1, le=100)
    cursor: str | None = None


@api.route(
    BASE, "GET", query=ListProductsQuery, response=Page[Product], summary="List products, newest first (100 a page)"
)
def list_products(call: Call) -> Reply:
    q = call.query(ListProductsQuery)
    return wiring.tenant_store(call.principal.scope).list_products(q.limit, q.cursor), 200


@api.route(f"{BASE}/<product_id>", "GET", response=Product, summary="One product")
def get_product(call: Call, product_id: str) -> Reply:
    return wiring.tenant_store(call.principal.scope).get_product(product_id), 200


@functions_framework.http
def products(request: Any) -> Any:
    return api(request)
