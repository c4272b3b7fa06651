"""A pytest plugin for the mutation runs' map of which tests run which lines: coverage is told
which test is running (every thread's lines count for it: the workers serve tasks in threads of
their own), and each test's duration is kept so the fastest run first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import coverage

durations: dict[str, float] = {}


def pytest_runtest_setup(item: Any) -> None:
    measuring = coverage.Coverage.current()
    if measuring is not None:
        measuring.switch_context(item.nodeid)


def pytest_runtest_logreport(report: Any) -> None:
    durations[report.nodeid] = durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: Any) -> None:
    target = os.environ.get("SYNQ_MUTATION_DURATIONS")
    if target:
        Path(target).write_text(json.dumps(durations))
