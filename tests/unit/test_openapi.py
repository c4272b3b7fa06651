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


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document()["paths"].items() for method, op in ops.items()]


def test_operation_ids_are_unique_and_name_a_verb_and_a_resource() -> None:
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))
    for op_id in ids:
        assert re.fullmatch(r"(list|get|create|update|delete|replace|cancel)_[a-z]+(_[a-z]+)*", op_id), op_id
    assert {"list_bulk_jobs", "get_brand", "list_audit_events", "delete_category", "get_export"} <= set(ids)


def test_every_operation_has_a_tag_the_document_declares() -> None:
    declared = {t["name"] for t in document()["tags"]}
    for path, method, op in operations():
        assert len(op["tags"]) == 1 and op["tags"][0] in declared, (method, path)


def test_path_parameters_are_uuids() -> None:
    for path, _, op in operations():
        for param in op["parameters"]:
            if param["in"] == "path":
                assert param["schema"] == {"type": "string", "format": "uuid"}, path


def test_each_operation_lists_the_errors_its_shape_can_answer_with_the_error_schema() -> None:
    for path, method, op in operations():
        statuses = set(op["responses"])
        assert {"401", "403", "500", "503"} <= statuses
        assert ("requestBody" in op) == ({"413", "415"} <= statuses), (method, path)
        takes_input = "requestBody" in op or any(p["in"] == "query" for p in op["parameters"])
        assert takes_input == ("400" in statuses), (method, path)
        if "{" in path:
            assert "404" in statuses
        for status, response in op["responses"].items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_writes_that_can_conflict_document_409() -> None:
    doc = document()["paths"]
    assert "409" in doc["/api/v1/pim/brands"]["post"]["responses"]
    assert "409" in doc["/api/v1/pim/products/{product_id}"]["put"]["responses"]
    assert "409" in doc["/api/v1/pim/bulk-jobs"]["post"]["responses"]  # an upload not arrived, or used
    assert "409" not in doc["/api/v1/pim/products"]["post"]["responses"]
    assert "409" in doc["/api/v1/pim/bulk-jobs/{job_id}/cancel"]["post"]["responses"]


def test_posts_that_take_an_idempotency_key_document_it() -> None:
    doc = document()["paths"]
    for path in ["/api/v1/pim/bulk-jobs", "/api/v1/pim/exports", "/api/v1/pim/uploads"]:
        op = doc[path]["post"]
        [header] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header["required"]
        assert header["schema"]["maxLength"] == 255
        assert {"400", "409", "422"} <= set(op["responses"])
    assert not [p for p in doc["/api/v1/pim/products"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert "404" in doc["/api/v1/pim/settings/notifications"]["get"]["responses"]


def test_the_errors_of_a_job_are_documented_as_json_and_as_a_csv_file() -> None:
    ok = document()["paths"]["/api/v1/pim/bulk-jobs/{job_id}/errors"]["get"]["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/csv"}
    created = document()["paths"]["/api/v1/pim/uploads"]["post"]["responses"]
    assert "201" in created and "404" not in created


def test_the_posts_a_tenant_limit_can_refuse_document_429_with_retry_after() -> None:
    paths = document()["paths"]
    limited = {("/api/v1/pim/bulk-jobs", "post"), ("/api/v1/pim/exports", "post")}
    for path, ops in paths.items():
        for method, op in ops.items():
            if (path, method) not in limited:
                assert "429" not in op["responses"], (path, method)
                continue
            refusal = op["responses"]["429"]
            assert refusal["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
            assert refusal["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_catalog_fields_are_documented_with_their_constraints() -> None:
    schemas = document()["components"]["schemas"]

    def field(model: str, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = schemas[model]["properties"][name]
        return next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)

    for model in ("BrandFields", "BrandPatch", "CategoryFields", "CategoryPatch"):
        slug = field(model, "slug")
        assert (slug["pattern"], slug["maxLength"]) == ("^[a-z0-9]+(?:-[a-z0-9]+)*$", 100), model
    for model in ("BrandFields", "BrandPatch"):
        logo = field(model, "logo_url")
        assert (logo["format"], logo["maxLength"]) == ("uri", 2048) and logo["pattern"].startswith("^[Hh][Tt]")
    for model in ("VariantFields", "VariantPatch"):
        options = field(model, "option_values")
        assert options["maxProperties"] == 20 and options["propertyNames"]["maxLength"] == 64
        assert options["propertyNames"]["pattern"] and options["additionalProperties"]["maxLength"] == 200
        assert field(model, "cost_price") == field(model, "price")  # the same exact-decimal rules
    assert "slug" in schemas["Brand"]["properties"] and "logo_url" in schemas["Brand"]["properties"]
    assert {"option_values", "cost_price", "data_quality_score"} <= set(schemas["Variant"]["properties"])
