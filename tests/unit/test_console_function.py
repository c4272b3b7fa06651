"""The `console` function serves the built page and its hashed assets, and nothing else."""

from __future__ import annotations

from pathlib import Path

import flask
import pytest

from functions import console as console_function

app = flask.Flask(__name__)


@pytest.fixture()
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    monkeypatch.setattr(console_function, "DIST", tmp_path)
    return tmp_path


def get(path: str, method: str = "GET") -> flask.Response:
    with app.test_request_context(path, method=method):
        return app.make_response(console_function.console(flask.request))


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_the_page_is_served_fresh_under_a_strict_policy(dist: Path, path: str) -> None:
    page = get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"<title>console</title>" in page.get_data()
    assert page.headers["Cache-Control"] == "no-cache"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_a_hashed_asset_is_cached_for_good(dist: Path) -> None:
    asset = get("/console/assets/index-abc123.js")
    assert asset.status_code == 200 and asset.mimetype in ("text/javascript", "application/javascript")
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/missing.js",
        "/console/assets/../index.html",
        "/console/assets/%2e%2e/%2e%2e/secret.txt",
        "/console/assets/..%2f..%2fsecret.txt",
        "/console/secret.txt",
        "/console/assets/",
        "/consoles",
    ],
)
def test_nothing_else_is_served(dist: Path, path: str) -> None:
    answer = get(path)
    assert answer.status_code == 404
    assert b"not for the web" not in answer.get_data()


def test_only_reads_are_answered(dist: Path) -> None:
    assert get("/console", method="POST").status_code == 404


def test_an_unbuilt_console_says_how_to_build_it(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_function, "DIST", dist / "nowhere")
    answer = get("/console")
    assert answer.status_code == 404 and "make console" in answer.get_json()["error"]
