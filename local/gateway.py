"""A small router standing in for the production API gateway: one local port, every API function
under its path, served by functions-framework like the functions themselves
(`functions-framework --source=local/gateway.py --target=gateway`). The worker is not routed:
Cloud Tasks calls it directly, as in production."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the source root, as when deployed

import main
from functions.openapi import APIS
from shared import wiring
from shared.errors import NotFoundError
from shared.http import error_response, framework_error
from shared.settings import get_settings

functions_framework.errorhandler(HTTPException)(framework_error)  # as main.py does for each target

# Each API's collection path, routed to the function of the same name: derived from the route
# table, so a new API needs no edit here.
PREFIXES = [
    ("/api/v1/pim/openapi.json", main.openapi),
    ("/console", main.console),
    *sorted(
        {("/".join(r.path.split("/")[:5]), getattr(main, api.name)) for api in APIS for r in api.routes},
        key=lambda pair: pair[0],
    ),
]


def health() -> flask.Response:
    """200 once Firestore, Cloud Storage and Cloud Tasks all answer."""
    s = get_settings()
    problems = {}
    checks = {
        "firestore": lambda: list(wiring.firestore_client().collection("_health").limit(1).stream()),
        "storage": lambda: [
            wiring.storage_client().get_bucket(b) for b in (s.payload_bucket, s.export_bucket, s.upload_bucket)
        ],
        "tasks": lambda: wiring.tasks_client().get_queue(
            name=wiring.tasks_client().queue_path(s.gcp_project, s.tasks_location, s.tasks_queue), timeout=2
        ),
    }
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not up"
            problems[name] = str(exc)[:200]
    status = 503 if problems else 200
    return flask.jsonify({"status": "ok" if not problems else "unavailable", "problems": problems}), status


@functions_framework.http
def gateway(request: flask.Request) -> Any:
    if request.path == "/healthz":
        return health()
    for prefix, target in PREFIXES:
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return target(request)
    return error_response(NotFoundError(f"no such resource: {request.path}"))
