"""The OpenAPI document is generated from the served routes and models, and stays consistent."""

from __future__ import annotations

import json
import re
from typing import Any

from functions import bulk_jobs, products
from functions.openapi import document


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_route_is_documented_with_its_success_status() -> None:
    doc = document()
    for route in bulk_jobs.api.routes + products.api.routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        op = doc["paths"][path][route.method.lower()]
        assert str(route.status) in op["responses"] and "401" in op["responses"]


def test_every_reference_resolves() -> None:
    doc = document()
    names = set(doc["components"]["schemas"])
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in names, ref


def test_the_job_schema_has_the_contract_fields() -> None:
    job = document()["components"]["schemas"]["BulkJobView"]["properties"]
    for name in (
        "id",
        "tenant_id",
        "org_id",
        "job_type",
        "status",
        "payload",
        "total_items",
        "processed_items",
        "failed_items",
        "errors",
        "created_by",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
    ):
        assert name in job
    assert json.dumps(document())  # serialisable as served
