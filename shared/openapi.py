"""The OpenAPI 3.1 document, generated from the routes and pydantic models the functions serve,
so it cannot drift from the code."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.domain import idempotency
from shared.http import Api, Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string", "description": "Human-readable message."},
        "code": {"type": "string", "description": "Machine-readable code, e.g. INVALID_ARGUMENT."},
        "details": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}},
        },
    },
}
ERRORS = {
    400: "Malformed or invalid input; `details` names each field",
    401: "Missing or invalid token, or missing X-Tenant-ID / X-Org-ID",
    403: "The token does not grant this tenant/org, or the role may not do this",
    404: "No such resource in this tenant (an id that is not a UUID names none)",
    409: "Conflicts with the stored data (a name taken, a record in use, a job already finished, or changed "
    "concurrently: retry)",
    413: "Body over 10 MB",
    415: "Body is not JSON",
    422: "The Idempotency-Key was used before with a different request",
    500: "Unexpected error (logged; the body carries a request_id)",
    503: "A dependency is temporarily unavailable: retry",
}


def build_openapi(apis: list[Api]) -> dict[str, Any]:
    routes = [r for api in apis for r in api.routes]
    models = {
        m for r in routes for m in (r.body, r.query, r.response) if isinstance(m, type) and issubclass(m, BaseModel)
    }
    keyed, defs = models_json_schema(
        [
            (m, "validation" if _is_body(m, routes) else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = {**defs.get("$defs", {}), "Error": ERROR_SCHEMA}
    refs = {model: schema for (model, _mode), schema in keyed.items()}
    paths: dict[str, Any] = {}
    tags = sorted({r.tag for r in routes if r.tag})
    for route in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, refs, schemas)
    for query in {r.query for r in routes if r.query is not None}:
        schemas.pop(query.__name__)  # spelled out as parameters; as a schema it would only add noise to clients
    return {
        "openapi": "3.1.0",
        "info": {"title": "Synq PIM bulk operations API", "version": "1.0.0"},
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in tags],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "paths": paths,
    }


def _is_body(model: type[BaseModel], routes: list[Route]) -> bool:
    return any(r.body is model for r in routes)


def _operation(route: Route, refs: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "header", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for n in ("X-Tenant-ID", "X-Org-ID")
    ]
    params += [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for n in route.path_params
    ]
    if route.idempotent:
        params.append(
            {
                "name": idempotency.HEADER,
                "in": "header",
                "required": False,
                "description": "Your unique name for this request (1-255 printable ASCII characters). Sent again "
                "with the same request by the same tenant and org within 24 hours, it returns the first answer "
                f"(same status and body, with `{idempotency.REPLAYED_HEADER}: true`) and creates nothing; with a "
                "different request it is a 422.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": idempotency.KEY_PATTERN},
            }
        )
    if route.query is not None:
        properties = schemas[route.query.__name__]["properties"]
        params += [
            {
                "name": name,
                "in": "query",
                "required": field.is_required(),
                "description": field.description or "",
                "schema": properties[name],
            }
            for name, field in route.query.model_fields.items()
        ]
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        **({"tags": [route.tag]} if route.tag else {}),
        "summary": route.summary,
        **({"description": route.description} if route.description else {}),
        "parameters": params,
        "responses": {
            str(route.status): {
                "description": "OK",
                **(
                    {
                        "content": {
                            "application/json": {"schema": refs[route.response]},
                            **{media: {"schema": {"type": "string"}} for media in route.files},
                        }
                    }
                    if route.response
                    else {}
                ),
            },
            **{
                str(code): {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for code in route.error_statuses()
            },
        },
    }
    if route.body is not None:
        op["requestBody"] = {
            "required": not route.body_optional,
            "content": {"application/json": {"schema": refs[route.body]}},
        }
    return op
