"""The API Gateway config (Swagger 2.0, which API Gateway requires), built from the routes the
functions declare (`functions.openapi.APIS`), so the gateway cannot drift from the code.

    python -m infra.gateway_spec --urls urls.json [--output gateway.json]
    python -m infra.gateway_spec --url bulk_jobs=https://... --url products=https://... ...
    python -m infra.gateway_spec --targets   # the main.py targets that need a URL, one a line

Run it from the repository root with the app's requirements installed. `urls.json` maps each
target (an Api's name, plus `openapi`) to its function's URL. The output is JSON, which API
Gateway accepts like YAML.

Every route keeps its full path on the way to its function (APPEND_PATH_TO_ADDRESS), since the
functions route on it. The gateway checks no end-user credentials (the functions verify the
caller's bearer token themselves), but it authenticates to the functions with a Google ID token
whose audience is the function URL: it sends that token in Authorization and moves the caller's
to X-Forwarded-Authorization, which is why the API functions are deployed with
AUTH_HEADER=X-Forwarded-Authorization.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from functions.openapi import APIS
from shared.http import Api

OPENAPI_TARGET = "openapi"
OPENAPI_PATH = "/api/v1/pim/openapi.json"
CONSOLE_TARGET = "console"
# The routes outside the Apis, no token needed: path (werkzeug form), target, operationId, summary.
UNAUTHENTICATED_ROUTES = [
    (OPENAPI_PATH, OPENAPI_TARGET, "get_openapi_document", "The API's OpenAPI 3.1 document"),
    ("/console", CONSOLE_TARGET, "get_console_page", "The web console (it signs in with the user's token)"),
    ("/console/assets/<asset>", CONSOLE_TARGET, "get_console_asset", "The web console's scripts and styles"),
]
# How long the gateway waits for the function (its default would be 15 s).
DEFAULT_DEADLINE = 30.0
DEADLINES = {("POST", "/api/v1/pim/bulk-jobs"): 60.0}

_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
# werkzeug converters a single `{name}` segment of the gateway matches, and their Swagger types.
_PARAM_TYPES = {"default": "string", "string": "string", "uuid": "string", "int": "integer", "float": "number"}


def required_targets(apis: Sequence[Api] = APIS) -> list[str]:
    """The main.py targets the gateway routes to: one per Api (its name), then `openapi` and `console`."""
    return list(dict.fromkeys([*(api.name for api in apis), *(r[1] for r in UNAUTHENTICATED_ROUTES)]))


def gateway_path(path: str) -> tuple[str, list[dict[str, Any]]]:
    """A werkzeug rule (`/a/<x>`) as a Swagger path template (`/a/{x}`) and its path parameters."""
    params: list[dict[str, Any]] = []

    def swap(match: re.Match[str]) -> str:
        converter = match["converter"] or "default"
        if converter not in _PARAM_TYPES:
            raise ValueError(f"{path}: a <{converter}:...> segment cannot be routed by the gateway")
        params.append({"name": match["name"], "in": "path", "required": True, "type": _PARAM_TYPES[converter]})
        return "{" + match["name"] + "}"

    return _PARAM.sub(swap, path), params


def backend(url: str, deadline: float) -> dict[str, Any]:
    """`x-google-backend` for one operation. Leaving `disable_auth` unset keeps backend auth on
    (it and `jwt_audience` are alternatives in the gateway's config)."""
    return {
        "address": url,
        "path_translation": "APPEND_PATH_TO_ADDRESS",
        "jwt_audience": url,
        "deadline": deadline,
    }


def function_url(target: str, url: str) -> str:
    """The function's base URL, checked: https, no path, no query."""
    if not isinstance(url, str):
        raise ValueError(f"the URL of {target} must be a string")
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ValueError(f"the URL of {target} must look like https://HOST (got {url!r})")
    return url


def build_spec(urls: Mapping[str, str], apis: Sequence[Api] = APIS) -> dict[str, Any]:
    """The Swagger 2.0 document: every route of every Api to the function serving it (the Api's
    name is its main.py target), plus GET openapi.json to `openapi` and the console's pages to `console`."""
    targets = required_targets(apis)
    missing = [t for t in targets if t not in urls]
    unknown = sorted(set(urls) - set(targets))
    if missing or unknown:
        problems = [f"no URL for {', '.join(missing)}"] if missing else []
        problems += [f"unknown targets {', '.join(unknown)} (expected {', '.join(targets)})"] if unknown else []
        raise ValueError("; ".join(problems))
    addresses = {t: function_url(t, urls[t]) for t in targets}

    paths: dict[str, dict[str, Any]] = {}
    shapes: dict[str, str] = {}  # /a/{} -> /a/{x}: Swagger treats paths differing only in names as one
    operation_ids: set[str] = set()

    def add(path: str, method: str, target: str, handler: str, summary: str, status: int) -> None:
        template, params = gateway_path(path)
        shape = re.sub(r"\{\w+\}", "{}", template)
        if shapes.setdefault(shape, template) != template:
            raise ValueError(f"{template} and {shapes[shape]} differ only in parameter names")
        operations = paths.setdefault(template, {})
        if method.lower() in operations:
            raise ValueError(f"{method} {template} is declared twice")
        operation_id, n = handler, 2
        while operation_id in operation_ids:
            operation_id, n = f"{handler}_{n}", n + 1
        operation_ids.add(operation_id)
        operation: dict[str, Any] = {"operationId": operation_id, "summary": summary}
        if params:
            operation["parameters"] = params
        operation["x-google-backend"] = backend(addresses[target], DEADLINES.get((method, path), DEFAULT_DEADLINE))
        operation["responses"] = {str(status): {"description": HTTPStatus(status).phrase}}
        operations[method.lower()] = operation

    for api in apis:
        for route in api.routes:
            add(route.path, route.method.upper(), api.name, route.handler.__name__, route.summary, route.status)
    for path, target, operation_id, summary in UNAUTHENTICATED_ROUTES:
        add(path, "GET", target, operation_id, summary, 200)

    return {
        "swagger": "2.0",
        "info": {
            "title": "synq-pim",
            "description": "Synq PIM bulk-operations API (generated by infra/gateway_spec.py; the full "
            f"contract is {OPENAPI_PATH})",
            "version": "1.0.0",
        },
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.gateway_spec", description="Write the API Gateway config (Swagger 2.0, JSON)."
    )
    parser.add_argument("--urls", type=Path, metavar="FILE", help="JSON object: main.py target -> function URL")
    parser.add_argument("--url", action="append", default=[], metavar="TARGET=URL", help="one target's URL")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="where to write it (default: stdout)")
    parser.add_argument("--targets", action="store_true", help="print the targets that need a URL and exit")
    args = parser.parse_args(argv)

    if args.targets:
        sys.stdout.write("".join(f"{t}\n" for t in required_targets()))
        return 0
    urls: dict[str, str] = {}
    if args.urls:
        try:
            loaded = json.loads(args.urls.read_text())
        except (OSError, ValueError) as exc:
            parser.error(f"--urls {args.urls}: {exc}")
        if not isinstance(loaded, dict):
            parser.error(f"--urls {args.urls}: expected a JSON object of target -> URL")
        urls.update(loaded)
    for item in args.url:
        target, sep, url = item.partition("=")
        if not sep or not target:
            parser.error(f"--url {item!r}: expected TARGET=URL")
        urls[target] = url
    if not urls:
        parser.error("give the function URLs with --urls FILE or --url TARGET=URL")
    try:
        text = json.dumps(build_spec(urls), indent=2) + "\n"
    except ValueError as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
