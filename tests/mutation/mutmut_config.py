"""mutmut's hooks (mutmut imports this module by name; tests/mutation/run.py puts it on the path).

Before each mutant: which tests to run (from the map run.py made: only the tests that run the
mutant's line, fastest first; on a survivor's second run, the module's other tests), with a
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
    tests = choose_tests(tests_map, context.current_line_index + 1, bool(os.environ.get("SYNQ_MUTATION_EVERYTHING")))
    if not tests:  # no test runs this line, or (a second run) every test already ran: nothing can kill it
        context.config.test_command = shlex.join(tests_map["nothing"])
        return
    durations = tests_map["durations"]
    runner = tests_map["runner"]
    # A hang is a kill too: three times what the tests took unmutated, and half a minute to start.
    deadline = 30 + 3 * sum(durations.get(test, 0.0) for test in (durations if tests is ALL else tests))
    command = [*runner[:3], "--deadline", f"{deadline:.0f}", *runner[3:]]
    context.config.test_command = shlex.join(command + (tests_map["everything"] if tests is ALL else tests))


ALL = ["(every test of the module)"]


def choose_tests(tests_map: dict[str, Any], line_number: int, second_run: bool) -> list[str]:
    """The tests a mutant of the line gets, fastest first: the ones the map says run the line (ALL for
    a line run only at import); on a survivor's second run, every other test of the module, which
    the map may have missed (state one test built and another used)."""
    mapped: list[str] | None = tests_map["lines"].get(str(line_number))
    if not second_run:
        return ALL if mapped is None else mapped
    if mapped is None or mapped == []:  # every test already ran it / none runs it
        return []
    durations: dict[str, float] = tests_map["durations"]
    return sorted((test for test in durations if test not in set(mapped)), key=durations.__getitem__)
