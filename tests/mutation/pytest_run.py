"""pytest as mutmut's runner: any failure at all kills the mutant. mutmut 2 counts only pytest's
exit codes 1 and 2 as failures, but a mutant that breaks a module a conftest imports ends pytest
with 4 (usage error), which would count as a survivor. A runner that cannot even start is caught
anyway: mutmut first runs it without mutations and stops unless that passes."""

from __future__ import annotations

import sys

import pytest

if __name__ == "__main__":
    sys.exit(0 if pytest.main(sys.argv[1:]) == 0 else 1)
