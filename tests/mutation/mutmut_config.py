"""mutmut's hooks (mutmut imports this module by name; tests/mutation/run.py puts it on the path).

Before each mutant: which tests to run (from the map run.py made: only the tests that run the
mutant's line, fastest first; every test of the module for a survivor's second run), with a
deadline after which a hang counts as a kill, and which lines not to mutate at all. Two kinds of line are not
mutated, because what they say is for people, not for callers, and no test should hold their
wording in place:
- lines that only log;
- `with translated("..."):` lines, whose only content is the label a storage failure's message
  starts with ("bulk job: storage temporarily unavailable"). Which error a failure becomes is
  decided in google_errors.py and does not depend on the label.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

from tests.mutation.survivors import mutated_line, reason

LOG_LINE = re.compile(r"^(log|logger|logging)\.\w+\(")
STORAGE_ERROR_LABEL = re.compile(r'^with translated\("[^"]*"\):$')


@cache
def test_map(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def pre_mutation(context: Any) -> None:
    line = context.current_source_line.strip()
    if LOG_LINE.match(line) or STORAGE_ERROR_LABEL.match(line):
        context.skip = True
        return
    mapped = os.environ.get("SYNQ_MUTATION_MAP")
    if not mapped:
        return
    tests_map = test_map(mapped)
    mutant = context.mutation_id
    mutated = mutated_line(context.source, mutant.line, mutant.index, mutant.line_number)
    # Known to change nothing observable: no run needed. Not for a line written twice in the module,
    # whose reason may hold for one of them only.
    once = [text.strip() for text in context.source_by_line_number].count(line) == 1
    if once and reason(context.filename, line, mutated)[1]:
        context.config.test_command = shlex.join(tests_map["nothing"])
        return
    tests = tests_map["lines"].get(str(context.current_line_index + 1))
    if tests == []:  # no test runs this line: nothing can kill the mutant
        context.config.test_command = shlex.join(tests_map["nothing"])
        return
    if os.environ.get("SYNQ_MUTATION_EVERYTHING"):  # a survivor's second chance: every test
        tests = None
    durations = tests_map["durations"]
    runner = tests_map["runner"]
    # A hang is a kill too: three times what the tests took unmutated, and half a minute to start.
    deadline = 30 + 3 * sum(durations.get(test, 0.0) for test in (tests or durations))
    command = [*runner[:3], "--deadline", f"{deadline:.0f}", *runner[3:]]
    context.config.test_command = shlex.join(command + (tests or tests_map["everything"]))
