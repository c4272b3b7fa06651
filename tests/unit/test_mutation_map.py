"""The mutation runner's test map: a module-level constant is judged by the tests of its uses."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.mutation import run
from tests.mutation.mutmut_config import ALL, choose_tests
from tests.mutation.run import constants_by_use
from tests.mutation.survivors import EQUIVALENT, NOT_YET_KILLED, only_the_annotation

SOURCE = """\
LIMIT = 1
PAIR = (2,
        3)
def defaulted(a=LIMIT):
    return PAIR
def unrun():
    return NEVER_RUN
NEVER_RUN = 5
UNUSED = 6
"""


def test_a_constant_gets_the_tests_of_the_lines_using_it_fastest_first() -> None:
    lines: dict[int, list[str] | None] = dict.fromkeys(range(1, 10))
    lines[5], lines[7] = ["slow", "fast"], []
    durations = {"fast": 0.1, "slow": 2.0}
    found = list(constants_by_use(SOURCE, lines, lambda test: durations[test]))
    # LIMIT is used at import (a default): every test. NEVER_RUN's use runs in no test, UNUSED has
    # none: they keep every test too.
    assert found == [(2, 3, ["fast", "slow"])]


def test_a_mutmut_run_whose_cache_stops_changing_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "SRC", tmp_path)
    monkeypatch.setattr(run, "STALLED_AFTER", 0.5)
    synced: list[bool] = []
    monkeypatch.setattr(run, "sync_sources", lambda: synced.append(True))
    (tmp_path / ".mutmut-cache").write_bytes(b"")
    started = time.monotonic()
    run.run_watched([sys.executable, "-c", "import time; time.sleep(120)"], dict(os.environ), poll=0.1)
    assert time.monotonic() - started < 60  # stopped, not waited for
    assert synced == [True]  # the mutant it may have left applied, undone from the working tree


def test_every_recorded_survivor_names_a_line_its_module_still_has() -> None:
    """A reason whose line was since rewritten explains nothing: it is pruned, or written again for
    the new line (the next run lists its mutant as a survivor with no reason)."""
    stale = [
        (module, line)
        for module, line, _ in [*EQUIVALENT, *NOT_YET_KILLED]
        if line not in {text.strip() for text in (run.ROOT / module).read_text().splitlines()}
    ]
    assert stale == []


def test_a_survivors_second_run_gets_the_tests_its_first_run_left_out_fastest_first() -> None:
    tests_map = {
        "lines": {"1": ["b", "a"], "2": None, "3": []},
        "durations": {"a": 0.5, "b": 3.0, "c": 2.0, "d": 1.0},
    }
    assert choose_tests(tests_map, 1, second_run=False) == ["b", "a"]
    assert choose_tests(tests_map, 1, second_run=True) == ["d", "c"]
    # run only at import: every test, once; run by no test: none, ever
    assert choose_tests(tests_map, 2, second_run=False) is ALL
    assert choose_tests(tests_map, 2, second_run=True) == []
    assert choose_tests(tests_map, 3, second_run=False) == []
    assert choose_tests(tests_map, 3, second_run=True) == []


def test_only_a_change_to_an_annotation_counts_as_one() -> None:
    module = "shared/services/exports.py"  # annotations never evaluated
    line = "running: RunningLimit | None = None  # at most"
    assert only_the_annotation(module, line, "running: RunningLimit & None = None  # at most")
    assert not only_the_annotation(module, line, 'running: RunningLimit | None = ""  # at most')
    assert not only_the_annotation(module, "lambda: view(full=False),", "lambda: view(full=True),")
    # a module whose annotations are evaluated (no `from __future__ import annotations`)
    assert not only_the_annotation("shared/__init__.py", "KEY: int | None = None", "KEY: int & None = None")
