"""What `infra/deploy.sh --dry-run` and `infra/teardown.sh --dry-run` would do, held against the
code: every main.py target deployed, every queue and bucket the settings name created (and
deleted), every composite query the adapters declare served by an index that the script
creates, each runtime account granted exactly what infra/README.md documents, workers reachable
only internally, and tasks' OIDC audience set."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import main
from shared.adapters.firestore.queries import DOCUMENT_ID, INDEXED_QUERIES
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
PROJECT, REGION = "demo-proj", "europe-west1"
SMTP_SECRET = "synq-pim-smtp-password"
ACCOUNT_SUFFIX = f"@{PROJECT}.iam.gserviceaccount.com"


@dataclass
class DryRun:
    commands: list[list[str]]  # each printed command (`+` runs, `?` checks), split as the shell would
    deployed: dict[str, list[str]] = field(default_factory=dict)  # function name -> its deploy command (last)
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # function name -> its runtime environment

    def gcloud(self, *words: str) -> list[list[str]]:
        """The gcloud commands starting with these words (after `gcloud`)."""
        return [c for c in self.commands if c[1 : 1 + len(words)] == list(words)]


def flag(command: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")]
    return values[-1] if values else None


def dry_run(script: str, *args: str, **env: str) -> DryRun:
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHON": sys.executable}
    environment.update(PROJECT=PROJECT, REGION=REGION, **env)
    done = subprocess.run(
        ["bash", str(INFRA / script), "--dry-run", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    run = DryRun(commands=[])
    env_lines: list[str] = []
    last_env: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if match := re.match(r"^  [+?] (.*)$", line):
            command = shlex.split(match[1])
            run.commands.append(command)
            if command[1:3] == ["functions", "deploy"]:
                if env_lines:
                    last_env = dict(re.match(r'^\s+(\w+): "(.*)"$', e).groups() for e in env_lines)  # type: ignore[union-attr]
                    env_lines = []
                run.deployed[command[3]] = command
                run.env[command[3]] = last_env
        elif re.match(r'^      \w+: ".*"$', line):
            env_lines.append(line)
    return run


@pytest.fixture(scope="module")
def deploy() -> DryRun:
    return dry_run("deploy.sh", SMTP_PASSWORD_SECRET=SMTP_SECRET)


@pytest.fixture(scope="module")
def teardown() -> DryRun:
    return dry_run("teardown.sh", "--delete-indexes")


def test_every_main_target_is_deployed_once_and_torn_down(deploy: DryRun, teardown: DryRun) -> None:
    entry_points = {flag(c, "entry-point"): name for name, c in deploy.deployed.items()}
    assert set(entry_points) == set(main.__all__)
    assert len(deploy.deployed) == len(main.__all__)
    assert {c[3] for c in teardown.gcloud("functions", "delete")} == set(deploy.deployed)


def test_every_queue_and_bucket_the_settings_name_is_created_and_torn_down(deploy: DryRun, teardown: DryRun) -> None:
    queues = {c[4] for c in deploy.gcloud("tasks", "queues", "create")}
    buckets = {c[4].removeprefix("gs://") for c in deploy.gcloud("storage", "buckets", "create")}
    named = [name for name in Settings.model_fields if name.endswith(("_queue", "_bucket"))]
    assert len(named) >= 4
    for name in named:
        values = {env.get(name.upper()) for env in deploy.env.values()}
        assert len(values) == 1 and None not in values, f"{name.upper()} is not set for every function: {values}"
        value = values.pop()
        assert value in (queues if name.endswith("_queue") else buckets), f"{name.upper()}={value} is never created"
    assert {c[4] for c in teardown.gcloud("tasks", "queues", "delete")} == queues
    removed = {a.removeprefix("gs://") for c in teardown.gcloud("storage", "rm") for a in c if a.startswith("gs://")}
    assert removed == buckets


def test_notifications_have_a_queue_of_their_own_that_every_announcer_sends_to(deploy: DryRun) -> None:
    s = Settings()
    created = {c[4]: c for c in deploy.gcloud("tasks", "queues", "create")}
    assert s.notify_queue not in (s.exports_queue, s.tasks_queue)
    notify = created[s.notify_queue]
    assert (flag(notify, "max-concurrent-dispatches"), flag(notify, "max-dispatches-per-second")) == ("20", "20")
    assert int(str(flag(notify, "max-attempts"))) > 1
    # The functions that announce a job's or an export's end may queue to it; the export worker takes its tasks.
    grants = granted(deploy)
    senders = {a for a, roles in grants.items() if ("roles/cloudtasks.enqueuer", f"queue:{s.notify_queue}") in roles}
    assert senders == {"synq-pim-bulk-api", "synq-pim-bulk-worker", "synq-pim-export-worker", "synq-pim-watchdog"}


def test_the_export_worker_has_a_whole_vcpu(deploy: DryRun) -> None:
    export_worker = deploy.deployed["synq-pim-export-worker"]
    assert (flag(export_worker, "memory"), flag(export_worker, "cpu")) == ("2Gi", "1")
    worker = deploy.deployed["synq-pim-bulk-job-worker"]
    assert (flag(worker, "memory"), flag(worker, "cpu")) == ("1Gi", None)


def test_browsers_may_put_files_to_the_upload_bucket_only(deploy: DryRun) -> None:
    [cors] = [c for c in deploy.gcloud("storage", "buckets", "update") if flag(c, "cors-file")]
    assert cors[4] == f"gs://{PROJECT}-synq-pim-uploads"
    rules = json.loads((INFRA / str(flag(cors, "cors-file")).rsplit("/", 1)[-1]).read_text())
    assert [(r["method"], r["origin"]) for r in rules] == [(["PUT"], ["*"])]
    assert "x-goog-content-length-range" in rules[0]["responseHeader"]


# --- Firestore indexes -------------------------------------------------------------------------
def index_fields(index: dict[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((f["fieldPath"], f["order"]) for f in index["fields"])  # type: ignore[attr-defined]


def serves(index: dict[str, object], equals: frozenset[str], order: tuple[tuple[str, str], ...]) -> bool:
    """Whether a composite index serves equality filters on `equals` then `order` (an index
    orders by document id last implicitly, so a trailing ascending `__name__` needs no field)."""
    fields = index_fields(index)
    order = order[:-1] if order and order[-1] == (DOCUMENT_ID, "ASCENDING") else order
    head, tail = fields[: len(equals)], fields[len(equals) :]
    return {name for name, _ in head} == equals and tail == order


def needs_composite(equals: frozenset[str], order: tuple[tuple[str, str], ...]) -> bool:
    return len(equals) + len([f for f, _ in order if f != DOCUMENT_ID]) >= 2


def load_indexes() -> list[dict[str, object]]:
    indexes: list[dict[str, object]] = json.loads((INFRA / "firestore.indexes.json").read_text())["indexes"]
    return indexes


def test_every_declared_composite_query_is_served_by_an_index() -> None:
    indexes = load_indexes()
    unserved = []
    for name, query in INDEXED_QUERIES.items():
        candidates = [
            i
            for i in indexes
            if i["collectionGroup"] == query.collection_group and i.get("queryScope", "COLLECTION") == query.scope
        ]
        for equals, order in query.shapes():
            if needs_composite(equals, order) and not any(serves(i, equals, order) for i in candidates):
                unserved.append(f"{name}: {sorted(equals)} then {order}")
    assert unserved == []


def test_every_index_serves_a_declared_query_and_is_created_by_the_deployment(deploy: DryRun) -> None:
    shapes = [(q, e, o) for q in INDEXED_QUERIES.values() for e, o in q.shapes()]
    created = set()
    for command in deploy.gcloud("firestore", "indexes", "composite", "create"):
        configs = [a.split("=", 1)[1] for a in command if a.startswith("--field-config=")]
        fields = tuple(tuple(p.split("=")[1] for p in c.split(",")) for c in configs)
        created.add((flag(command, "collection-group"), flag(command, "query-scope"), fields))
    for index in load_indexes():
        scope = str(index.get("queryScope", "COLLECTION"))
        assert any(
            q.collection_group == index["collectionGroup"] and q.scope == scope and serves(index, e, o)
            for q, e, o in shapes
        ), f"no declared query needs {index}"
        as_created = tuple((f, d.lower()) for f, d in index_fields(index))
        assert (index["collectionGroup"], scope.lower().replace("_", "-"), as_created) in created


def test_the_adapters_make_no_composite_query_outside_the_declarations() -> None:
    """An order other than by document id, or a second filter, would need an index nobody declared."""
    problems = []
    for path in sorted((ROOT / "shared" / "adapters" / "firestore").glob("*.py")):
        if path.name == "queries.py":
            continue
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            wheres = 0
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr == "order_by" and not (
                        node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == DOCUMENT_ID
                    ):
                        problems.append(f"{path.name}:{node.lineno} order_by")
                    wheres += node.func.attr == "where"
                if isinstance(node, ast.For | ast.While) and "where(" in ast.unparse(node):
                    problems.append(f"{path.name}:{node.lineno} where in a loop")
            if wheres > 1:
                problems.append(f"{path.name}:{function.name} filters twice")
    assert problems == []


def single_field_filters() -> set[str]:
    """Every field the code filters on by name with one where() (an equality or range on one field is
    served by the field's automatic single-field index): FieldFilter("field", ...) or where("field",
    ...) in shared/, and the references a brand or category is checked for before it is deleted."""
    from shared.services.taxonomy import USED_BY

    found = {field for uses in USED_BY.values() for _, field, _ in uses}
    for path in sorted((ROOT / "shared").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("FieldFilter", "where"):
                found.add(str(node.args[0].value))
            if name == "FieldPath":  # a path into a map the code builds to filter on (a product's attribute)
                found.add(str(node.args[0].value))
    return found


def exemptions() -> set[tuple[str, str]]:
    overrides = json.loads((INFRA / "firestore.indexes.json").read_text())["fieldOverrides"]
    return {(o["collectionGroup"], o["fieldPath"]) for o in overrides if o["indexes"] == []}


def covers(exempted: str, field: str) -> bool:
    """Whether exempting `exempted` disables `field`'s single-field index (a map's subfields inherit it)."""
    return field == exempted or field.startswith(exempted + ".")


def test_no_exempted_field_is_one_a_query_needs_its_single_field_index_for() -> None:
    """Exemptions disable single-field indexes only, so a field may be exempted when every query
    that reads it is served by a composite index (the test above holds those to the declarations):
    `created_at` of products, ordered on only through (`created_at`, `id`), is exempted for the
    hot spot it would be. A field filtered on alone, in any collection, or in a declared shape that
    needs no composite, keeps its index."""
    filtered = single_field_filters()
    assert {"blocks_export", "brand_id", "category_id"} <= filtered  # the scan sees the code's filters
    problems = [f"{group}.{field}" for group, field in exemptions() if any(covers(field, f) for f in filtered)]
    for name, query in INDEXED_QUERIES.items():
        for equals, order in query.shapes():
            if needs_composite(equals, order):
                continue
            read = set(equals) | {f for f, _ in order if f != DOCUMENT_ID}
            exempted = [
                (g, f) for g, f in exemptions() if g == query.collection_group and any(covers(f, r) for r in read)
            ]
            problems += [f"{name}: {g}.{f}" for g, f in exempted]
    assert problems == []


def test_the_deployment_applies_every_exemption_of_the_file(deploy: DryRun) -> None:
    applied = {
        (flag(c, "collection-group"), c[5])
        for c in deploy.gcloud("firestore", "indexes", "fields", "update")
        if "--disable-indexes" in c
    }
    assert applied == exemptions()
    # The timestamps every write moves, and the large values no query reads, are among them.
    for exempted in [("products", "created_at"), ("audit_events", "created_at"), ("bulk_jobs", "payload")]:
        assert exempted in applied


# --- IAM ---------------------------------------------------------------------------------------
def documented_roles() -> dict[str, tuple[set[str], set[tuple[str, str]]]]:
    """infra/README.md's table: runtime account -> (its functions' targets, {(role, on what)})."""
    text = (INFRA / "README.md").read_text()
    table = text[text.index("| Account | Functions | Roles (on what) |") :].split("\n\n")[0]
    found = {}
    for row in table.splitlines()[2:]:
        account, functions, roles = (c.strip() for c in row.strip("|").split("|"))
        if functions.startswith("none"):
            continue  # an invoker identity, checked below
        targets = {t.strip() for t in functions.split(",")}
        found[account.strip("`")] = (targets, set(re.findall(r"`(roles/[\w.]+)` \(([^)]+)\)", roles)))
    return found


def granted(run: DryRun) -> dict[str, set[tuple[str, str]]]:
    """Account -> {(role, resource)} from the dry run's add-iam-policy-binding commands."""
    kinds = {
        ("projects",): "project",
        ("storage", "buckets"): "bucket",
        ("tasks", "queues"): "queue",
        ("iam", "service-accounts"): "account",
        ("secrets",): "secret",
        ("run", "services"): "function",
    }
    grants: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for command in run.commands:
        for words, kind in kinds.items():
            if command[1 : 2 + len(words)] == [*words, "add-iam-policy-binding"]:
                member = str(flag(command, "member")).removeprefix("serviceAccount:")
                grants[member.removesuffix(ACCOUNT_SUFFIX)].add(
                    (str(flag(command, "role")), f"{kind}:{command[2 + len(words)]}")
                )
    return grants


def resource_of(description: str, account: str) -> str:
    s = Settings()
    return {
        "project": f"project:{PROJECT}",
        "payload bucket": f"bucket:gs://{PROJECT}-synq-pim-payloads",
        "export bucket": f"bucket:gs://{PROJECT}-synq-pim-exports",
        "upload bucket": f"bucket:gs://{PROJECT}-synq-pim-uploads",
        "bulk-jobs queue": f"queue:{s.tasks_queue}",
        "exports queue": f"queue:{s.exports_queue}",
        "notifications queue": f"queue:{s.notify_queue}",
        "synq-pim-tasks": f"account:synq-pim-tasks{ACCOUNT_SUFFIX}",
        "itself": f"account:{account}{ACCOUNT_SUFFIX}",
        "task token secret": "secret:synq-pim-task-auth-token",
        "SMTP password secret": f"secret:{SMTP_SECRET}",
    }[description]


def test_each_runtime_account_runs_its_functions_with_the_roles_documented_and_no_more(
    deploy: DryRun, teardown: DryRun
) -> None:
    documented = documented_roles()
    grants = granted(deploy)
    runs_as = {
        flag(c, "entry-point"): str(flag(c, "service-account")).removesuffix(ACCOUNT_SUFFIX)
        for c in deploy.deployed.values()
    }
    assert {t for targets, _ in documented.values() for t in targets} == set(main.__all__)
    for account, (targets, roles) in documented.items():
        assert {t for t, a in runs_as.items() if a == account} == targets, account
        expected = {(role, resource_of(on, account)) for role, on in roles}
        assert grants.get(account, set()) == expected, account
    runtime = set(runs_as.values())
    assert runtime <= set(documented)
    deleted = {c[4].removesuffix(ACCOUNT_SUFFIX) for c in teardown.gcloud("iam", "service-accounts", "delete")}
    assert runtime | {"synq-pim-tasks", "synq-pim-gateway", "synq-pim-scheduler"} <= deleted
    # Nothing else is granted to anyone but the three invoker identities.
    assert set(grants) - set(documented) <= {"synq-pim-tasks", "synq-pim-gateway", "synq-pim-scheduler"}


def test_only_the_invokers_may_call_each_function(deploy: DryRun) -> None:
    grants = granted(deploy)
    invokers = {}
    for account in ("synq-pim-tasks", "synq-pim-gateway", "synq-pim-scheduler"):
        assert {role for role, _ in grants[account]} == {"roles/run.invoker"}
        invokers[account] = {resource.removeprefix("function:") for _, resource in grants[account]}
    api = {name for name, c in deploy.deployed.items() if flag(c, "entry-point") in main_api_targets()}
    assert invokers["synq-pim-gateway"] == api
    assert invokers["synq-pim-tasks"] == {"synq-pim-bulk-job-worker", "synq-pim-export-worker"}
    assert invokers["synq-pim-scheduler"] == {"synq-pim-validation-sweep", "synq-pim-job-watchdog"}


def main_api_targets() -> set[str]:
    from infra.gateway_spec import required_targets

    return set(required_targets())


def test_workers_take_internal_traffic_only_and_tasks_name_their_audience(deploy: DryRun) -> None:
    for name, command in deploy.deployed.items():
        internal = flag(command, "entry-point") not in main_api_targets()
        assert flag(command, "ingress-settings") == ("internal-only" if internal else "all"), name
        env = deploy.env[name]
        for url, audience in (("WORKER_URL", "WORKER_AUDIENCE"), ("EXPORT_WORKER_URL", "EXPORT_WORKER_AUDIENCE")):
            if url in env:
                parts = urlsplit(env[url])
                assert env[audience] == f"{parts.scheme}://{parts.netloc}", (name, audience)
    watchdog = deploy.env["synq-pim-job-watchdog"]  # it queues to both workers
    assert watchdog["WORKER_AUDIENCE"] and watchdog["EXPORT_WORKER_AUDIENCE"]


def test_the_deployment_enables_url_signing_and_sets_soft_delete_deliberately(deploy: DryRun) -> None:
    [enable] = [c for c in deploy.gcloud("services", "enable") if "iam.googleapis.com" in c]
    assert "iamcredentials.googleapis.com" in enable
    updates = deploy.gcloud("storage", "buckets", "update")
    assert updates and all("--clear-soft-delete" in c for c in updates)


# --- the command wrappers ----------------------------------------------------------------------
def run_with_lib(script: str) -> subprocess.CompletedProcess[str]:
    """A bash script run after sourcing infra/lib.sh (for real: no dry run), its waits cut to 0."""
    prelude = f"set -euo pipefail; source {shlex.quote(str(INFRA / 'lib.sh'))}; RETRY_WAIT_SECONDS=0\n"
    return subprocess.run(["bash", "-c", prelude + script], capture_output=True, text=True, timeout=60, check=False)


# Counted in a file: each attempt runs in a subshell, as a real command would run in a process.
FLAKY = """
count=$(mktemp)
trap 'rm -f "$count"' EXIT
flaky() { # fails like a contended index creation twice, then succeeds
  echo x >>"$count"
  if (($(wc -l <"$count") < 3)); then echo "ERROR: (gcloud) ABORTED: too much contention" >&2; return 1; fi
  echo created
}
"""


def test_contention_is_retried_until_the_command_succeeds() -> None:
    done = run_with_lib(FLAKY + "run_retrying 'already exists' 'ABORTED|contention' flaky; echo calls=$(wc -l <$count)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "calls=3" and "created" in done.stdout


def test_an_error_that_is_neither_tolerated_nor_contention_stops_at_once() -> None:
    done = run_with_lib(FLAKY + "run_retrying 'already exists' 'quota' flaky; echo calls=$(wc -l <$count)")
    assert done.returncode != 0 and "calls=" not in done.stdout and "ABORTED" in done.stderr
    tolerated = run_with_lib(
        "exists_already() { echo 'ERROR: index already exists' >&2; return 1; }\n"
        "run_tolerating 'already exists' exists_already; echo ok"
    )
    assert tolerated.returncode == 0 and tolerated.stdout.splitlines()[-1] == "ok"


# --- for real, against a stand-in gcloud --------------------------------------------------------
FAKE_GCLOUD = """#!/usr/bin/env bash
# Records each call; answers the lookups deploy.sh makes from the environment, succeeds otherwise.
printf '%s\\n' "$*" >>"$GCLOUD_CALLS"
case "$*" in
  "auth list"*) echo deployer@example.com ;;
  *"--format=value(type)"*) echo "$FAKE_DATABASE_TYPE" ;;
  *"--format=value(serviceConfig.uri)"*) echo "$FAKE_FUNCTION_URL" ;;
esac
"""


def deploy_against_fake_gcloud(tmp_path: Path, **answers: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcloud").write_text(FAKE_GCLOUD)
    (bin_dir / "gcloud").chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "PYTHON": sys.executable,
        "PROJECT": PROJECT,
        "REGION": REGION,
        "GCLOUD_CALLS": str(calls),
        **answers,
    }
    done = subprocess.run(
        ["bash", str(INFRA / "deploy.sh")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False
    )
    return done, calls.read_text().splitlines()


def test_a_datastore_mode_database_stops_the_deployment_before_anything_is_built(tmp_path: Path) -> None:
    done, calls = deploy_against_fake_gcloud(tmp_path, FAKE_DATABASE_TYPE="DATASTORE_MODE", FAKE_FUNCTION_URL="x")
    assert done.returncode != 0 and "not FIRESTORE_NATIVE" in done.stderr
    assert not [c for c in calls if "indexes" in c or "functions deploy" in c]


def test_a_function_url_that_cannot_be_read_stops_the_deployment(tmp_path: Path) -> None:
    done, calls = deploy_against_fake_gcloud(tmp_path, FAKE_DATABASE_TYPE="FIRESTORE_NATIVE", FAKE_FUNCTION_URL="")
    assert done.returncode != 0 and "could not read the URL of function synq-pim-bulk-job-worker" in done.stderr
    # The worker already existed (describe succeeded), so nothing was deployed with a URL of just a path.
    assert [c for c in calls if c.startswith("functions describe")]
    assert not [c for c in calls if c.startswith("functions deploy")]
