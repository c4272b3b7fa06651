"""Why each surviving mutant survives, keyed by (module, the line as written, the line as the
mutant makes it), whitespace trimmed: a reason holds as long as its line does not change.

EQUIVALENT: mutants that change nothing a caller, a stored record or a test could observe. They
are left out of the score and listed with their reason.
NOT_YET_KILLED: mutants that could be killed; the reason names the test that should be written.
"""

from __future__ import annotations

EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("shared/domain/tenancy.py", 'ADMIN = "ADMIN"', 'ADMIN = "XXADMINXX"'): (
        "A role's value is never stored, sent or compared: tokens name roles, matched by member name "
        "(Role.from_claim), and only the VIEWER's value appears in a message."
    ),
    ("shared/domain/tenancy.py", 'EDITOR = "EDITOR"', 'EDITOR = "XXEDITORXX"'): (
        "As for ADMIN: an EDITOR is never refused for writing, so its value appears nowhere."
    ),
}

NOT_YET_KILLED: dict[tuple[str, str, str], str] = {}
