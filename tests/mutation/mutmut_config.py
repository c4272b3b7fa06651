"""mutmut's hooks (mutmut imports this module by name; tests/mutation/run.py puts it on the path).

Two kinds of line are not mutated, because what they say is for people, not for callers, and no
test should hold their wording in place:
- lines that only log;
- `with translated("..."):` lines, whose only content is the label a storage failure's message
  starts with ("bulk job: storage temporarily unavailable"). Which error a failure becomes is
  decided in google_errors.py and does not depend on the label.
Everything else is mutated.
"""

from __future__ import annotations

import re
from typing import Any

LOG_LINE = re.compile(r"^(log|logger|logging)\.\w+\(")
STORAGE_ERROR_LABEL = re.compile(r'^with translated\("[^"]*"\):$')


def pre_mutation(context: Any) -> None:
    line = context.current_source_line.strip()
    if LOG_LINE.match(line) or STORAGE_ERROR_LABEL.match(line):
        context.skip = True
