"""Why each surviving mutant survives. A mutant is known by (module, the line as written, the line
as the mutant makes it), whitespace trimmed, so a reason holds as long as its line is unchanged.

EQUIVALENT: mutants that change nothing a caller, a stored record or a test could observe; they are
left out of the score (and listed with their reason). EQUIVALENT_WHEN does the same for a kind of
change, wherever it occurs.
NOT_YET_KILLED: mutants a test could kill; the reason names the test that should be written.
"""

from __future__ import annotations

from collections.abc import Callable

Key = tuple[str, str, str]

EQUIVALENT_WHEN: list[tuple[Callable[[str, str], bool], str]] = [
    (
        lambda line, mutated: mutated == line.replace('mode="python"', 'mode="XXpythonXX"'),
        'pydantic dumps every mode but "json" as "python".',
    ),
]

JOBS = "shared/adapters/firestore/jobs.py"
VERSIONS = 'return {w.doc_id: r.update_time for w, r in written if w.kind != "delete"}'
ONLY_SAVES_A_READ = (
    "The versions commit_batch returns only spare evaluation reading back the products the batch "
    "created; without them (or with extra ones) evaluation reads the products and judges the same."
)

BASE = "shared/adapters/firestore/base.py"
PREFETCHED = "def prefetched(items: Iterator[T], batch: int = 200, depth: int = 4) -> Iterator[T]:"
CHUNKS = "chunks: queue.Queue[list[T] | BaseException | None] = queue.Queue(maxsize=depth)"
TYPING_ONLY = "Used in annotations only, which are never evaluated (`from __future__ import annotations`)."

EQUIVALENT: dict[Key, str] = {
    (BASE, 'T = TypeVar("T")', 'T = TypeVar("XXTXX")'): TYPING_ONLY,
    (BASE, 'T = TypeVar("T")', "T = None"): TYPING_ONLY,
    (BASE, CHUNKS, CHUNKS.replace("list[T] | BaseException", "list[T] & BaseException")): TYPING_ONLY,
    (BASE, CHUNKS, CHUNKS.replace("BaseException | None", "BaseException & None")): TYPING_ONLY,
    (BASE, "self.client = client", "self.client = None"): "TenantRoot.client is never read.",
    (BASE, PREFETCHED, PREFETCHED.replace("batch: int = 200", "batch: int = 201")): (
        "How many items the reader hands over at a time: the same items arrive, in the same order."
    ),
    (BASE, PREFETCHED, PREFETCHED.replace("depth: int = 4", "depth: int = 5")): (
        "How many batches the reader may read ahead: the same items arrive, in the same order."
    ),
    (BASE, "chunks.put(chunk, timeout=0.1)", "chunks.put(chunk, timeout=1.1)"): (
        "How long the reader waits for room before it looks whether the caller stopped: only how soon "
        "a stopped reader ends."
    ),
    (
        JOBS,
        "written = zip(plan.writes, results[1 : 1 + len(plan.writes)], strict=True)  # after the marker",
        "written = zip(plan.writes, results[1 : 1 + len(plan.writes)], strict=False)  # after the marker",
    ): "The slice always holds exactly one result per write, so strictness never has anything to refuse.",
    (
        JOBS,
        "after, from_batch = decode_cursor(cursor, 2) if cursor else [-1, 0]",
        "after, from_batch = decode_cursor(cursor, 2) if cursor else [-2, 0]",
    ): "Item indices start at 0: any start below it lists the same errors.",
    (JOBS, "break", "continue"): (
        "In job_errors: reading on past a full page only reads batch markers the page then leaves out."
    ),
    (JOBS, VERSIONS, VERSIONS.replace('!= "delete"', '== "delete"')): ONLY_SAVES_A_READ,
    (JOBS, VERSIONS, VERSIONS.replace('"delete"', '"XXdeleteXX"')): ONLY_SAVES_A_READ,
    (
        JOBS,
        'raise NotFoundError("bulk job not found")',
        'raise NotFoundError("XXbulk job not foundXX")',
    ): (
        "In start_job only (the same line in get_job is killed by the 404 tests): the job vanishing "
        "between the worker's read and its start transaction cannot happen, jobs are never deleted."
    ),
    ("shared/domain/tenancy.py", 'ADMIN = "ADMIN"', 'ADMIN = "XXADMINXX"'): (
        "A role's value is never stored, sent or compared: tokens name roles, matched by member name "
        "(Role.from_claim), and only the VIEWER's value appears in a message."
    ),
    ("shared/domain/tenancy.py", 'EDITOR = "EDITOR"', 'EDITOR = "XXEDITORXX"'): (
        "As for ADMIN: an EDITOR is never refused for writing, so its value appears nowhere."
    ),
}

NOT_YET_KILLED: dict[Key, str] = {}


def reason(module: str, line: str, mutated: str) -> tuple[str | None, bool]:
    """Why the mutant survives, if recorded, and whether it is equivalent."""
    key = (module, line, mutated)
    if key in EQUIVALENT:
        return EQUIVALENT[key], True
    for applies, why in EQUIVALENT_WHEN:
        if applies(line, mutated):
            return why, True
    return NOT_YET_KILLED.get(key), False
