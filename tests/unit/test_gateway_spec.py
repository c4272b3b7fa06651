"""The API Gateway config (infra/gateway_spec.py) routes every declared route to the function that
serves it, and is a structurally valid Swagger 2.0 document."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

import main
from functions.job_watchdog import WatchdogRequest
from functions.openapi import APIS, document
from functions.validation_sweep import SweepRequest
from infra import gateway_spec
from infra.gateway_spec import OPENAPI_PATH, build_spec, required_targets
from local.emulators import TASKS_MAX_ATTEMPTS
from shared.http import Api, Call, Reply
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
URLS = {target: f"https://synq-pim-{target.replace('_', '-')}-abc123-uc.a.run.app" for target in required_targets()}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}
API_NAMES = [
    "bulk_jobs",
    "uploads",
    "products",
    "brands",
    "categories",
    "attributes",
    "product_templates",
    "audit_logs",
    "validation_issues",
    "exports",
    "notification_settings",
    "stats",
]
# main.py targets deployed outside the gateway: the Cloud Tasks workers and the scheduled functions.
NON_GATEWAY_TARGETS = {"bulk_job_worker", "export_worker", "validation_sweep", "job_watchdog"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def template(path: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec(URLS)


def test_the_document_is_swagger_2_with_a_backend_on_every_operation(spec: dict[str, Any]) -> None:
    assert spec["swagger"] == "2.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["schemes"] == ["https"]
    assert spec["paths"]
    for path, method, op in operations(spec):
        assert path.startswith("/") and method in METHODS, (path, method)
        assert op["responses"] and all(re.fullmatch(r"[1-5]\d\d", code) for code in op["responses"])
        assert all(r["description"] for r in op["responses"].values())
        backend = op["x-google-backend"]
        assert backend["address"] in URLS.values()
        assert backend["jwt_audience"] == backend["address"]
        assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"
        assert "disable_auth" not in backend  # backend auth stays on; jwt_audience is its alternative
    json.dumps(spec)  # serialisable as is


def test_every_route_of_every_api_goes_to_its_function(spec: dict[str, Any]) -> None:
    routes = [(api, route) for api in APIS for route in api.routes]
    assert [api.name for api in APIS] == API_NAMES
    for api, route in routes:
        op = spec["paths"][template(route.path)][route.method.lower()]
        backend = op["x-google-backend"]
        assert backend["address"] == backend["jwt_audience"] == URLS[api.name], (api.name, route.path)
        assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"
        slow = (route.method, route.path) == ("POST", "/api/v1/pim/bulk-jobs")
        assert backend["deadline"] == (60.0 if slow else 30.0), (route.method, route.path)
        assert str(route.status) in op["responses"]
    assert len(operations(spec)) == len(routes) + 3  # + openapi.json and the console's two, nothing else


def test_the_openapi_document_goes_to_the_openapi_function(spec: dict[str, Any]) -> None:
    assert set(spec["paths"][OPENAPI_PATH]) == {"get"}
    backend = spec["paths"][OPENAPI_PATH]["get"]["x-google-backend"]
    assert backend["address"] == backend["jwt_audience"] == URLS["openapi"]
    assert backend["deadline"] == 30.0


def test_the_console_goes_to_the_console_function(spec: dict[str, Any]) -> None:
    for path in ("/console", "/console/assets/{asset}"):
        assert set(spec["paths"][path]) == {"get"}
        assert spec["paths"][path]["get"]["x-google-backend"]["address"] == URLS["console"]


def test_path_parameters_are_declared(spec: dict[str, Any]) -> None:
    assert "/api/v1/pim/products/{product_id}/variants/{variant_id}" in spec["paths"]
    for path, method, op in operations(spec):
        assert "<" not in path and ">" not in path
        in_path = [p for p in op.get("parameters", []) if p["in"] == "path"]
        assert [p["name"] for p in in_path] == re.findall(r"\{(\w+)\}", path), (method, path)
        assert all(p["required"] is True and p["type"] == "string" for p in in_path)


def test_operation_ids_are_unique_and_match_the_served_openapi_document(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    served = document()["paths"]
    for path, method, op in operations(spec):
        if path.startswith("/api/v1/pim/") and path != OPENAPI_PATH:
            assert op["operationId"] == served[path][method]["operationId"]


def config_sh(*names: str) -> list[str]:
    """Values from infra/config.sh as deploy.sh sees them (defaults only: a clean environment)."""
    script = 'source infra/lib.sh && source infra/config.sh && printf "%s\\n"'
    script += "".join(f' "${{{name}}}"' for name in names)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PROJECT": "demo", "REGION": "us-central1"}
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_every_target_is_a_function_main_exports_and_deploy_sh_deploys() -> None:
    targets = required_targets()
    assert targets == [*API_NAMES, "openapi", "console"]
    for target in targets:
        assert target in main.__all__ and callable(getattr(main, target))
    config = (ROOT / "infra" / "config.sh").read_text()
    block = re.search(r"^API_FUNCTIONS=\((.*?)^\)", config, re.M | re.S)
    assert block is not None
    assert sorted(re.findall(r'^\s*"(\w+)\s', block[1], re.M)) == sorted(targets)


def test_the_other_main_targets_are_deployed_outside_the_gateway() -> None:
    worker, fn_worker, exporter, fn_exporter, sweep, fn_sweep, watchdog, fn_watchdog = config_sh(
        "WORKER_TARGET",
        "FN_WORKER",
        "EXPORT_WORKER_TARGET",
        "FN_EXPORT_WORKER",
        "SWEEP_TARGET",
        "FN_SWEEP",
        "WATCHDOG_TARGET",
        "FN_WATCHDOG",
    )
    assert {worker, exporter, sweep, watchdog} == NON_GATEWAY_TARGETS
    assert NON_GATEWAY_TARGETS.isdisjoint(required_targets())
    assert set(main.__all__) == set(required_targets()) | NON_GATEWAY_TARGETS  # every export is deployed
    for target, name in ((worker, fn_worker), (exporter, fn_exporter), (sweep, fn_sweep), (watchdog, fn_watchdog)):
        assert callable(getattr(main, target))
        assert name == "synq-pim-" + target.replace("_", "-")


def test_the_scheduled_sweep_body_is_valid_and_fits_the_function_timeout() -> None:
    budget, timeout = (int(v) for v in config_sh("SWEEP_BUDGET_SECONDS", "SWEEP_TIMEOUT_SECONDS"))
    deploy = (ROOT / "infra" / "deploy.sh").read_text()
    template = re.search(r'--message-body="((?:[^"\\]|\\.)*)"', deploy)
    assert template is not None
    body = template[1].replace('\\"', '"').replace("$SWEEP_BUDGET_SECONDS", str(budget))
    assert SweepRequest.model_validate(json.loads(body)).budget_seconds == budget  # what the job posts
    assert budget <= timeout - 30


def test_the_scheduled_watchdog_body_is_valid_and_fits_the_function_timeout() -> None:
    budget, timeout = (int(v) for v in config_sh("WATCHDOG_BUDGET_SECONDS", "WATCHDOG_TIMEOUT_SECONDS"))
    deploy = (ROOT / "infra" / "deploy.sh").read_text()
    template = re.search(r'--message-body="((?:[^"\\]|\\.)*\$WATCHDOG_BUDGET_SECONDS[^"]*)"', deploy)
    assert template is not None
    body = template[1].replace('\\"', '"').replace("$WATCHDOG_BUDGET_SECONDS", str(budget))
    assert WatchdogRequest.model_validate(json.loads(body)).budget_seconds == budget
    assert budget <= timeout - 30


def test_the_queues_allow_more_attempts_than_the_app_makes() -> None:
    """Else the app's last attempt, which ends a batch or an export for good, would never run."""
    bulk, exports = (int(v) for v in config_sh("TASKS_QUEUE_MAX_ATTEMPTS", "EXPORTS_QUEUE_MAX_ATTEMPTS"))
    batch, export = (Settings.model_fields[f].default for f in ("batch_max_attempts", "export_max_attempts"))
    assert bulk > batch
    assert exports > export + 1  # the delivery after the last counted run fails the export
    assert max(batch, export + 1) < TASKS_MAX_ATTEMPTS  # the local stack's emulator, bounded too


def test_urls_are_checked() -> None:
    with pytest.raises(ValueError, match="no URL for openapi"):
        build_spec({t: u for t, u in URLS.items() if t != "openapi"})
    for target in sorted(NON_GATEWAY_TARGETS):  # never routed by the gateway
        with pytest.raises(ValueError, match=f"unknown targets {target}"):
            build_spec({**URLS, target: "https://private.a.run.app"})
    for bad in ("http://products.a.run.app", "https://products.a.run.app/api", "products.a.run.app"):
        with pytest.raises(ValueError, match="must look like https://HOST"):
            build_spec({**URLS, "products": bad})
    trailing = build_spec({**URLS, "products": URLS["products"] + "/"})
    assert trailing["paths"]["/api/v1/pim/products"]["get"]["x-google-backend"]["address"] == URLS["products"]


def handler(name: str) -> Any:
    def handle(call: Call, **_: str) -> Reply:
        return None, 204

    handle.__name__ = name
    return handle


def test_colliding_handler_names_still_get_unique_operation_ids_and_typed_parameters() -> None:
    one, two = Api("one"), Api("two")
    one.route("/one/<int:n>", "GET", summary="One")(handler("get"))
    two.route("/two/<doc_id>", "GET", summary="Two")(handler("get"))
    spec = build_spec(
        {
            "one": "https://one.run.app",
            "two": "https://two.run.app",
            "openapi": "https://o.run.app",
            "console": "https://c.run.app",
        },
        [one, two],
    )
    assert spec["paths"]["/one/{n}"]["get"]["operationId"] == "get"
    assert spec["paths"]["/two/{doc_id}"]["get"]["operationId"] == "get_2"
    assert spec["paths"]["/one/{n}"]["get"]["parameters"] == [
        {"name": "n", "in": "path", "required": True, "type": "integer"}
    ]


def test_routes_the_gateway_cannot_serve_are_refused() -> None:
    clash = Api("one")
    clash.route("/a/<x>", "GET", summary="A")(handler("a"))
    clash.route("/a/<y>", "PUT", summary="A")(handler("b"))
    with pytest.raises(ValueError, match="differ only in parameter names"):
        build_spec(
            {"one": "https://one.run.app", "openapi": "https://o.run.app", "console": "https://c.run.app"}, [clash]
        )
    multi = Api("one")
    multi.route("/files/<path:name>", "GET", summary="A")(handler("a"))
    with pytest.raises(ValueError, match="cannot be routed"):
        build_spec(
            {"one": "https://one.run.app", "openapi": "https://o.run.app", "console": "https://c.run.app"}, [multi]
        )


def test_the_command_line_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(URLS))
    out = tmp_path / "gateway.json"
    assert gateway_spec.main(["--urls", str(urls), "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == build_spec(URLS)

    assert gateway_spec.main([*(f"--url={t}={u}" for t, u in URLS.items())]) == 0
    assert json.loads(capsys.readouterr().out) == build_spec(URLS)

    assert gateway_spec.main(["--targets"]) == 0
    assert capsys.readouterr().out.split() == required_targets()

    with pytest.raises(SystemExit) as exit_info:
        gateway_spec.main(["--url", "products=https://p.run.app"])
    assert exit_info.value.code != 0
    assert "no URL for" in capsys.readouterr().err
