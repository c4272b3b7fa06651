"""`openapi`: serves the API's OpenAPI document (no authentication)."""

from __future__ import annotations

from functools import cache
from typing import Any

import flask
import functions_framework

from functions import bulk_jobs, products
from shared.openapi import build_openapi


@cache
def document() -> dict[str, Any]:
    return build_openapi([bulk_jobs.api, products.api])


@functions_framework.http
def openapi(request: Any) -> Any:
    return flask.jsonify(document())
