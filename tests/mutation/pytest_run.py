"""pytest as mutmut's runner: any failure at all kills the mutant.

- mutmut 2 counts only pytest's exit codes 1 and 2 as failures, but a mutant that breaks a module a
  conftest imports ends pytest with 4 (usage error), which would count as a survivor. A runner that
  cannot even start is caught anyway: mutmut first runs it without mutations and stops unless that
  passes.
- `--deadline SECONDS` (first, if given): a mutant that makes the tests hang (a reader that never
  finishes, a wait that never ends) is a kill once that much time has passed, instead of holding
  the run until mutmut's own timeout (ten times the whole module's tests).
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--deadline"]:
        deadline = threading.Timer(float(args[1]), lambda: os._exit(1))
        deadline.daemon = True
        deadline.start()
        args = args[2:]
    code = pytest.main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if code == 0 else 1)  # threads a mutant left running cannot hold the process either
