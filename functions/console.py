"""`console`: the web console (console/, built into console/dist by `make`), as static files.

It serves no data and checks no token: the page signs in with the user's bearer token and calls
the public API with it, like any other client. Assets have content-hashed names, so they are
cached for good; the page itself is revalidated each time, so a deploy shows at once.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import flask
import functions_framework

from shared.errors import NotFoundError
from shared.http import error_response

DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
BASE = "/console"
# What the page may load and call: only its own origin (the API is under the same host). Export
# downloads are plain links, which navigate and need no permission here.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _file(path: Path, cache_control: str) -> flask.Response:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = flask.Response(path.read_bytes(), status=200, mimetype=media_type)
    response.headers["Cache-Control"] = cache_control
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@functions_framework.http
def console(request: flask.Request) -> Any:
    if request.method not in ("GET", "HEAD"):
        return error_response(NotFoundError(f"no such resource: {request.method} {request.path}"))
    if request.path in (BASE, BASE + "/", BASE + "/index.html"):
        index = DIST / "index.html"
        if not index.is_file():
            return error_response(NotFoundError("the console is not built: run `make console`"))
        return _file(index, "no-cache")
    name = request.path.removeprefix(BASE + "/assets/")
    asset = DIST / "assets" / name
    if name != request.path and "/" not in name and not name.startswith(".") and asset.is_file():
        return _file(asset, "public, max-age=31536000, immutable")
    return error_response(NotFoundError(f"no such resource: {request.path}"))
