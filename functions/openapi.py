"""`openapi`: serves the API's OpenAPI document (no authentication)."""

from __future__ import annotations

from functools import cache
from typing import Any

import flask
import functions_framework

from functions import (
    audit_logs,
    bulk_jobs,
    exports,
    notification_settings,
    products,
    stats,
    taxonomy,
    uploads,
    validation_issues,
)
from shared.openapi import build_openapi

APIS = [
    bulk_jobs.api,
    uploads.api,
    products.api,
    taxonomy.brands_api,
    taxonomy.categories_api,
    audit_logs.api,
    validation_issues.api,
    exports.api,
    notification_settings.api,
    stats.api,
]


@cache
def document() -> dict[str, Any]:
    return build_openapi(APIS)


@functions_framework.http
def openapi(request: Any) -> Any:
    return flask.jsonify(document())
