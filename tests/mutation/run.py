"""Mutation testing of the modules that hold the promises (`make mutate`; slow, so not in `make test`).

mutmut changes one thing at a time in a module (a comparison, a constant, a keyword, an argument)
and runs the tests that guard that module against each change, stopping at the first failure; a
change no test notices is a survivor. Target: at least 90% of each module's mutants killed, the
survivors listed in docs/testing.md with a reason.

- It works on a copy of the source tree in `.mutate/src`, never on the working tree, and keeps
  mutmut's cache there: a second run retests only what changed (any change to the tests retests
  everything).
- The emulators are started once per module and shared by every mutant's test run through
  SYNQ_TEST_EMULATORS (each run wipes Firestore first); tests run in a fixed order, fast killers
  first.

Usage: python -m tests.mutation.run [MODULE ...]       (default: every module below)
       python -m tests.mutation.run --report            (figures of the last runs, nothing run)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coverage
from mutmut.cache import hash_of_tests

from local.emulators import FirestoreEmulator, StorageEmulator, TasksEmulator
from local.stack import queue_paths
from tests.conftest import PROJECT
from tests.mutation.survivors import mutated_line, reason

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutate"
SRC = WORK / "src"
WALL_TIMES = WORK / "wall-times.json"
TARGET = 0.90
MAP_FORMAT = 3  # of the test maps in WORK: a new one makes them again

BULK = "tests/integration/test_bulk_processing.py"
REJECTIONS = "tests/integration/test_api_rejections.py"
EXPORTS = "tests/integration/test_exports.py"
ISSUES = "tests/integration/test_validation_issues.py"
POISON = "tests/integration/test_poison_items.py"
WATCHDOG = "tests/integration/test_watchdog.py"
JOB_NOTICES = "tests/integration/test_job_notifications.py"
IDEMPOTENCY = "tests/integration/test_idempotency.py"
IN_FLIGHT = "tests/integration/test_in_flight.py"
TENANT_LIMITS = "tests/integration/test_tenant_limits.py"
CANCEL = "tests/integration/test_cancel.py"
# Batches some of whose writes the store refuses (found by probing, the rest committed).
REFUSED_WRITES = [
    f"{POISON}::test_writes_the_store_refuses_fail_their_items_and_the_rest_commits_once",
    f"{POISON}::test_concurrent_commits_of_a_refused_batch_apply_it_once",
    f"{POISON}::test_a_job_whose_write_the_store_refuses_completes_through_the_worker",
]

# Module -> the tests that guard it, in the order they run (fast killers first).
MODULES: dict[str, list[str]] = {
    # the job store and the batch commit
    "shared/adapters/firestore/jobs.py": [
        BULK,
        "tests/integration/test_bulk_jobs_api.py",
        f"{REJECTIONS}::test_a_bad_cursor_on_a_jobs_errors_is_400",
        f"{REJECTIONS}::test_bad_list_queries_are_400",
        f"{REJECTIONS}::test_unknown_resources_are_404",
        *REFUSED_WRITES,
        # progress from batch and part markers, K batches in flight, tenant admission, stats
        IN_FLIGHT,
        TENANT_LIMITS,
        "tests/integration/test_stats.py",
        "tests/integration/test_commit_limits.py",
        CANCEL,
        "tests/integration/test_dry_run.py",
        "tests/integration/test_upload_processing.py",  # an uploaded job's plan documents
        # the errors CSV, from the batch markers with errors: generic, and a CSV upload's rows
        "tests/integration/test_uploads.py::test_an_inline_jobs_errors_csv_names_index_id_and_error",
        "tests/integration/test_uploads.py::test_the_errors_csv_round_trip",
        WATCHDOG,
        JOB_NOTICES,
    ],
    # tenant admission: a slot per running job or export, taken in the creating transaction
    "shared/adapters/firestore/admission.py": [TENANT_LIMITS],
    "shared/services/batch_commit.py": [*REFUSED_WRITES, BULK, IN_FLIGHT, "tests/integration/test_commit_limits.py"],
    # tenant roots, cursors, streamed reads
    "shared/adapters/firestore/base.py": [
        "tests/unit/test_cursors.py",
        "tests/unit/test_prefetched.py",
        f"{REJECTIONS}::test_bad_list_queries_are_400",
        "tests/integration/test_catalog_api.py::test_products_list_newest_first_with_a_cursor",
        "tests/integration/test_bulk_jobs_api.py::test_the_list_is_newest_first_by_type_and_defaults_to_bulk_update",
        "tests/integration/test_scopes.py",
        "tests/integration/test_audit_log_api.py",
        f"{ISSUES}::test_issues_are_listed_newest_first_with_a_cursor",
        f"{ISSUES}::test_a_paused_sweep_resumes_where_it_stopped_across_orgs",
        f"{EXPORTS}::test_an_ndjson_export_is_written_downloaded_and_announced_by_a_signed_webhook",
        f"{POISON}::test_a_single_write_the_store_refuses_is_a_400_not_a_500",
        BULK,
    ],
    # the HTTP edge: authentication, roles
    "shared/auth.py": ["tests/unit/test_auth.py", "tests/integration/test_jwks.py", "tests/integration/test_roles.py"],
    "shared/domain/tenancy.py": ["tests/unit/test_auth.py", "tests/integration/test_roles.py"],
    # the HTTP edge: routing, roles enforced, bodies and their limits, the task handler
    "shared/http.py": [
        "tests/unit/test_http_api.py",
        "tests/unit/test_http_edge.py",
        "tests/unit/test_openapi.py",  # each route's error statuses, derived here
        "tests/integration/test_roles.py",
        f"{REJECTIONS}::TestEveryEndpointAuth::test_no_token_is_401",
        f"{REJECTIONS}::test_bad_job_creation_is_rejected_and_stores_nothing",
        f"{REJECTIONS}::test_a_body_over_10_mb_is_413",
        f"{REJECTIONS}::test_bad_list_queries_are_400",
        f"{REJECTIONS}::test_unknown_resources_are_404",
        f"{REJECTIONS}::test_an_unsupported_method_is_405",
        "tests/integration/test_worker_endpoint.py",
        "tests/integration/test_catalog_api.py::test_non_json_bodies_are_rejected",
        f"{EXPORTS}::test_bad_export_requests_are_rejected_and_queue_nothing",
        f"{EXPORTS}::test_without_settings_the_export_completes_and_says_nobody_was_told",
        # idempotency replay, a file reply, an error the framework answers itself
        "tests/integration/test_idempotency.py",
        "tests/integration/test_uploads.py::test_the_errors_csv_round_trip",
        "tests/integration/test_hostile_input.py",
    ],
    # the sweep's lease, and the sweep that holds it
    "shared/adapters/firestore/sweep.py": [ISSUES, "tests/integration/test_worker_endpoint.py"],
    "shared/services/sweep.py": [ISSUES, "tests/integration/test_worker_endpoint.py"],
    # export runs and notification delivery
    "shared/domain/notifications.py": [
        "tests/unit/test_exports_domain.py",
        "tests/unit/test_job_notices_domain.py",  # a bulk job's event type and email
        "tests/integration/test_webhook_sender.py",
        EXPORTS,
    ],
    "shared/adapters/webhooks.py": [
        "tests/unit/test_webhook_deadline.py",
        "tests/integration/test_webhook_sender.py",
        EXPORTS,
    ],
    "shared/services/exports.py": [
        EXPORTS,
        "tests/integration/test_worker_endpoint.py",
        # the catalog's attribute columns and template slugs, read for the export's schema
        "tests/integration/test_attributes.py::test_exports_carry_template_completeness_and_typed_values_and_leave_out_invalid_ones",
    ],
    # one attempt at telling a tenant something ended, and a bulk job's announcements
    "shared/services/notifications.py": [JOB_NOTICES, EXPORTS],
    "shared/services/job_notifications.py": [JOB_NOTICES, CANCEL, WATCHDOG],
    # a request sent again under its Idempotency-Key gets the first answer
    "shared/services/idempotency.py": ["tests/unit/test_idempotency_domain.py", IDEMPOTENCY],
    "shared/adapters/firestore/idempotency.py": [IDEMPOTENCY],
    # the bulk job worker's task handler
    "functions/bulk_job_worker.py": ["tests/integration/test_worker_endpoint.py", BULK],
}

# mutmut's statuses; a timeout means the mutant hung the tests, which noticed it.
KILLED = {"ok_killed", "ok_suspicious", "bad_timeout"}


@dataclass
class Figures:
    module: str
    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    survived: int = 0
    equivalent: int = 0
    skipped: int = 0
    untested: int = 0

    @property
    def score(self) -> float:
        """Killed, of the mutants that can be killed (equivalent ones change nothing observable)."""
        killable = self.killed + self.survived
        return self.killed / killable if killable else 0.0

    @property
    def raw_score(self) -> float:
        tested = self.killed + self.survived + self.equivalent
        return self.killed / tested if tested else 0.0


@dataclass
class Survivor:
    mutant_id: int
    line_number: int
    line: str
    mutated: str
    reason: str | None  # why it is equivalent, or the test that should be written; None: not looked at
    equivalent: bool


def sync_sources() -> None:
    """Copy the tracked and new (not ignored) files of the working tree into SRC."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, SRC / name
        if not source.is_file():
            continue
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def start_emulators(stack: ExitStack) -> dict[str, str]:
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    for emulator in (
        FirestoreEmulator(log_path=logs / "firestore.log"),
        StorageEmulator(log_path=logs / "storage.log"),
        TasksEmulator(log_path=logs / "tasks.log", queues=queue_paths(PROJECT)),
    ):
        emulator.start()
        stack.callback(emulator.stop)
        env.update(emulator.env())
    return env


def forget_baseline() -> None:
    """mutmut times its runner once, unmutated, and kills a mutant's run after ten times that; it
    keeps one time for every runner, so each module's own is measured afresh."""
    cache = SRC / ".mutmut-cache"
    if cache.exists():
        with sqlite3.connect(cache) as db:
            db.execute("DELETE FROM MiscData WHERE key = 'baseline_time_elapsed'")


def pytest_command(*args: str) -> list[str]:
    """pytest as the mutation runs start it: in a fixed order, any failure a kill (pytest_run.py)."""
    return [
        sys.executable,
        "-m",
        "tests.mutation.pytest_run",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *args,
    ]


def map_tests(module: str, env: dict[str, str]) -> Path:
    """Which of the module's tests run each of its lines, fastest first: from one run of them under
    coverage, each test its own context. A mutant only changes anything when its line runs, so only
    those tests can kill it; a line no test runs makes a survivor without running anything. Lines
    that run only at import (definitions, defaults) get every test. Kept until the module or any
    test changes."""
    tests = MODULES[module]
    name = module.replace("/", "_")
    target = WORK / f"map-{name}.json"
    fingerprint = hashlib.sha256(json.dumps([MAP_FORMAT, tests]).encode() + (SRC / module).read_bytes())
    for test_file in sorted((SRC / "tests").rglob("*.py")):
        fingerprint.update(test_file.read_bytes())
    if target.exists() and json.loads(target.read_text())["fingerprint"] == fingerprint.hexdigest():
        return target
    data_file, durations_file = WORK / f"coverage-{name}", WORK / f"durations-{name}.json"
    data_file.unlink(missing_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--data-file={data_file}",
            f"--include={SRC / module}",
            *pytest_command("-p", "tests.mutation.contexts", *tests)[1:],
        ],
        cwd=SRC,
        env={**env, "SYNQ_MUTATION_DURATIONS": str(durations_file)},
        check=True,
    )
    measured = coverage.Coverage(data_file=str(data_file))
    measured.load()
    path = str(SRC / module)
    _, statements, _, missing, _ = measured.analysis2(path)
    contexts = measured.get_data().contexts_by_lineno(path)
    durations = json.loads(durations_file.read_text())
    lines: dict[int, list[str] | None] = {}
    for number in range(1, len((SRC / module).read_text().splitlines()) + 1):
        ran = sorted({c for c in contexts.get(number, []) if c}, key=lambda test: durations.get(test, 0.0))
        if ran:
            lines[number] = ran
        elif number in statements:
            lines[number] = [] if number in missing else None  # never run / run at import only
        else:  # part of a statement begun above (or no code): that statement's tests
            above = [n for n in statements if n < number]
            lines[number] = lines[max(above)] if above else None
    by_duration = lambda test: durations.get(test, 0.0)  # noqa: E731
    for first, last, tests_of_uses in constants_by_use((SRC / module).read_text(), lines, by_duration):
        for number in range(first, last + 1):
            lines[number] = tests_of_uses
    target.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint.hexdigest(),
                "runner": pytest_command("-x"),
                "everything": tests,
                "nothing": [sys.executable, "-c", "pass"],
                "lines": lines,
                "durations": durations,
            }
        )
    )
    return target


def constants_by_use(
    source: str, lines: dict[int, list[str] | None], by_duration: Any
) -> Iterator[tuple[int, int, list[str]]]:
    """A module-level constant runs only at import, so its line alone would get every test; the
    tests that run the lines using it are enough to judge a change to its value (a survivor runs
    the module's other tests, below). Yields (first line, last line, those tests) for each constant all of
    whose uses in the module run in some test; a constant used at import (a default) keeps them all."""
    tree = ast.parse(source)
    uses: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            uses.setdefault(node.id, []).append(node.lineno)
    for statement in tree.body:
        if not isinstance(statement, ast.Assign | ast.AnnAssign):
            continue
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        used_on = [n for name in names for n in uses.get(name, [])]
        found = [lines.get(n) for n in used_on]
        if not used_on or any(tests is None for tests in found):
            continue
        union = sorted({test for tests in found for test in tests or []}, key=by_duration)
        if union:
            yield statement.lineno, statement.end_lineno or statement.lineno, union


def forget_result(mutant_id: int) -> None:
    with sqlite3.connect(SRC / ".mutmut-cache") as db:
        db.execute("UPDATE Mutant SET status = 'untested', tested_against_hash = '' WHERE id = ?", (mutant_id,))


# mutmut 2 hangs for good when one of its workers raises (seen: "Attribute Mutant.line is
# required" from its cache): a run whose cache has not changed for this long is stopped, and the
# mutants it left are run one by one below. Longer than any one mutant's test run may take.
STALLED_AFTER = 900.0


def run_watched(command: list[str], env: dict[str, str], poll: float = 5.0) -> None:
    """Run mutmut in SRC; stop it if its cache stops changing (see STALLED_AFTER)."""
    cache = SRC / ".mutmut-cache"
    process = subprocess.Popen(command, cwd=SRC, env=env)
    last_change, seen = time.monotonic(), cache.stat().st_mtime if cache.exists() else 0.0
    while process.poll() is None:
        time.sleep(poll)
        mtime = cache.stat().st_mtime if cache.exists() else 0.0
        if mtime != seen:
            last_change, seen = time.monotonic(), mtime
        elif time.monotonic() - last_change > STALLED_AFTER:
            print(f"mutmut made no progress for {STALLED_AFTER:g} s: stopped", flush=True)
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            sync_sources()  # the mutant it had applied, undone


def mutate(module: str) -> None:
    forget_baseline()
    runner = shlex.join(pytest_command("-x", *MODULES[module]))
    mutmut = [sys.executable, "-m", "mutmut", "run", "--paths-to-mutate", module, "--tests-dir", "tests"]
    options = ["--runner", runner, "--test-time-base", "30", "--no-progress", "--simple-output"]
    with ExitStack() as stack:
        env = {
            **os.environ,
            "SYNQ_TEST_EMULATORS": json.dumps(start_emulators(stack)),
            "PYTHONPATH": str(SRC / "tests" / "mutation"),  # where mutmut finds its hooks
        }
        env["SYNQ_MUTATION_MAP"] = str(map_tests(module, env))
        # mutmut answers with a status of its own; the figures are read from its cache below.
        run_watched([*mutmut, *options], env)
        # mutmut 2 looks cached results up by the line's text, so of several identical lines (two
        # `ref = self._jobs.document(job_id)`) only the first is tested; the others, by id.
        give_ids(module)
        for mutant_id in not_run(module):
            run_watched([*mutmut, str(mutant_id), *options], env)
        # The map can miss a test: state built once and kept (a session fixture, a cached client)
        # is counted for the test that built it only. A survivor gets the rest of the module's tests.
        done = WORK / f"second-runs-{module.replace('/', '_')}.json"
        seconds = set(json.loads(done.read_text())) if done.exists() else set()
        tests_now = hash_of_tests([str(SRC / "tests")])
        for mutant_id, key in unexplained_survivors(module):
            if f"{key}@{tests_now}" not in seconds:
                forget_result(mutant_id)  # mutmut does not rerun a mutant it holds a result for
                everything = {**env, "SYNQ_MUTATION_EVERYTHING": "1"}
                run_watched([*mutmut, str(mutant_id), *options], everything)
                seconds.add(f"{key}@{tests_now}")
                done.write_text(json.dumps(sorted(seconds)))


def cached(module: str) -> dict[tuple[str, int, int], tuple[int, str, str]]:
    """mutmut's cache for `module`: (line, line number, index) -> (mutant id, status, tests' hash)."""
    cache = SRC / ".mutmut-cache"
    if not cache.exists():
        return {}
    with sqlite3.connect(cache) as db:
        rows = db.execute(
            "SELECT l.line, l.line_number, m.'index', m.id, m.status, m.tested_against_hash "
            "FROM Mutant m JOIN Line l ON m.line = l.id JOIN SourceFile s ON l.sourcefile = s.id WHERE s.filename = ?",
            (module,),
        ).fetchall()
    return {
        (line, number, index): (mutant_id, status, hashed) for line, number, index, mutant_id, status, hashed in rows
    }


def statuses(module: str) -> Iterator[tuple[Any, int, str]]:
    """Every mutant of the module's current source: (mutant, its id in the cache, its status now).
    A result got with other tests than the current ones counts as not run, unless it was a kill
    (which stays one, as in mutmut)."""
    from mutmut import Context, list_mutations

    known = cached(module)
    current = hash_of_tests([str(SRC / "tests")])
    for mutant in list_mutations(Context(source=(SRC / module).read_text(), filename=module)):
        mutant_id, status, tested_against = known.get((mutant.line, mutant.line_number, mutant.index), (0, "", ""))
        if status not in KILLED and status != "skipped" and tested_against != current:
            status = "untested"
        yield mutant, mutant_id, status


def give_ids(module: str) -> None:
    """mutmut 2 files a mutant under the first line with its line's text, so a mutant of a line
    identical to an earlier one (a closing `)`), added since mutmut first saw the module, never
    gets a row of its own in the cache, nor an id to be run by: give it one."""
    missing = [mutant for mutant, mutant_id, _ in statuses(module) if not mutant_id]
    if not missing:
        return
    with sqlite3.connect(SRC / ".mutmut-cache") as db:
        for mutant in missing:
            found = db.execute(
                "SELECT l.id FROM Line l JOIN SourceFile s ON l.sourcefile = s.id "
                "WHERE s.filename = ? AND l.line = ? AND l.line_number = ?",
                (module, mutant.line, mutant.line_number),
            ).fetchone()
            if found:
                db.execute(
                    "INSERT INTO Mutant (line, 'index', tested_against_hash, status) VALUES (?, ?, '', 'untested')",
                    (found[0], mutant.index),
                )


def not_run(module: str) -> list[int]:
    return [mutant_id for _, mutant_id, status in statuses(module) if status == "untested" and mutant_id]


def unexplained_survivors(module: str) -> list[tuple[int, str]]:
    """Survivors not known to be equivalent, that some test runs the line of: (id, a key that
    stays the mutant's while its line is unchanged)."""
    found = []
    source = (SRC / module).read_text()
    lines = json.loads((WORK / f"map-{module.replace('/', '_')}.json").read_text())["lines"]
    for mutant, mutant_id, status in statuses(module):
        if status != "bad_survived" or lines.get(str(mutant.line_number + 1)) == []:
            continue
        mutated = mutated_line(source, mutant.line, mutant.index, mutant.line_number)
        if not reason(module, mutant.line.strip(), mutated)[1]:
            found.append((mutant_id, hashlib.sha256(f"{mutant.line}|{mutant.index}|{mutated}".encode()).hexdigest()))
    return found


def figures(module: str) -> tuple[Figures, list[Survivor]]:
    """The figures and surviving mutants of the module as it is now."""
    found = Figures(module)
    survivors: list[Survivor] = []
    source = (SRC / module).read_text() if (SRC / module).exists() else ""
    for mutant, mutant_id, status in statuses(module) if source else ():
        found.mutants += 1
        if status in KILLED:
            found.killed += 1
            found.timeouts += status == "bad_timeout"
        elif status == "bad_survived":
            line = mutant.line.strip()
            mutated = mutated_line(source, mutant.line, mutant.index, mutant.line_number)
            why, equivalent = reason(module, line, mutated)
            survivors.append(Survivor(mutant_id, mutant.line_number + 1, line, mutated, why, equivalent))
            found.equivalent += equivalent
            found.survived += not equivalent
        elif status == "skipped":
            found.skipped += 1
        else:
            found.untested += 1
    return found, survivors


def record_wall_time(module: str, seconds: float) -> None:
    """How long the module's last run took (a rerun only retests what was not killed: shorter)."""
    times = json.loads(WALL_TIMES.read_text()) if WALL_TIMES.exists() else {}
    times[module] = round(seconds)
    WALL_TIMES.write_text(json.dumps(times, indent=1, sort_keys=True))


def report(modules: list[str]) -> bool:
    """Print the figures and survivors of `modules`; whether every one met the target."""
    if not (SRC / ".mutmut-cache").exists():
        print("no runs yet: `make mutate` runs them")
        return False
    lines = [
        "| module | mutants | killed | of which timeouts | equivalent | survived | skipped (log, labels) | not run "
        "| killed % of killable | killed % of all tested | last run's wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    times = json.loads(WALL_TIMES.read_text()) if WALL_TIMES.exists() else {}
    details, met = [], True
    for module in modules:
        f, survivors = figures(module)
        met &= f.score >= TARGET and not f.untested
        lines.append(
            f"| `{module}` | {f.mutants} | {f.killed} | {f.timeouts} | {f.equivalent} | {f.survived} | {f.skipped} "
            f"| {f.untested} | {100 * f.score:.1f} | {100 * f.raw_score:.1f} "
            f"| {f'{times[module] / 60:.0f} min' if module in times else ''} |"
        )
        for s in survivors:
            kind = "equivalent" if s.equivalent else "survivor"
            change = f"`{s.line}` -> `{s.mutated or '(line removed)'}`"
            details += [
                f"- `{module}:{s.line_number}` ({kind}, mutant {s.mutant_id}): {change}",
                f"  {s.reason or 'NO REASON RECORDED: add the test that kills it, or its reason to survivors.py'}",
            ]
    # Not `mutmut show` during a run: it records the source on disk, the mutant under test with it,
    # as the module's lines, and the run hangs on the mutants of the line it lost.
    text = "\n".join([*lines, "", "Survivors, each with its change:", "", *details])
    (WORK / "report.md").write_text(text + "\n")
    print(text)
    print(f"\ntarget {TARGET:.0%} of killable mutants killed in every module: {'met' if met else 'NOT met'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all): {', '.join(MODULES)}")
    parser.add_argument("--report", action="store_true", help="only print the figures of the last runs")
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"not a module this runs: {', '.join(sorted(unknown))}")
    modules = args.modules or list(MODULES)
    if not args.report:
        SRC.mkdir(parents=True, exist_ok=True)
        for module in modules:
            # Each module from the working tree as it is: a mutmut stopped mid-mutant leaves its
            # mutant in SRC, and the next module's tests would run against it.
            sync_sources()
            print(f"\n== mutating {module}", flush=True)
            started = time.monotonic()
            mutate(module)
            record_wall_time(module, time.monotonic() - started)
    sys.exit(0 if report(modules) else 1)


if __name__ == "__main__":
    main()
