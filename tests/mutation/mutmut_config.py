"""mutmut's hooks (mutmut imports this module by name; tests/mutation/run.py puts it on the path).

Lines that only log are not mutated: what a log line says is for people, and no test should hold
its wording in place. Everything else is.
"""

from __future__ import annotations

from typing import Any

NOT_MUTATED_PREFIXES = ("log.", "logger.", "logging.")


def pre_mutation(context: Any) -> None:
    if context.current_source_line.strip().startswith(NOT_MUTATED_PREFIXES):
        context.skip = True
