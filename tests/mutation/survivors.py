"""Why each surviving mutant survives. A mutant is known by (module, the line as written, the line
as the mutant makes it), whitespace trimmed, so a reason holds as long as its line is unchanged.

EQUIVALENT: mutants that change nothing a caller, a stored record or a test could observe; they are
left out of the score (and listed with their reason). EQUIVALENT_WHEN does the same for a kind of
change, wherever it occurs.
NOT_YET_KILLED: mutants a test could kill; the reason names the test that should be written, or
why the suite does not write it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

Key = tuple[str, str, str]
ROOT = Path(__file__).resolve().parents[2]

AUTH = "shared/auth.py"
HTTP = "shared/http.py"
BASE = "shared/adapters/firestore/base.py"
JOBS = "shared/adapters/firestore/jobs.py"
BATCH_COMMIT = "shared/services/batch_commit.py"
TENANCY = "shared/domain/tenancy.py"
SWEEP_STORE = "shared/adapters/firestore/sweep.py"
SWEEP = "shared/services/sweep.py"
NOTIFICATIONS = "shared/domain/notifications.py"
WEBHOOKS = "shared/adapters/webhooks.py"
EXPORTS = "shared/services/exports.py"
IDEMPOTENCY = "shared/services/idempotency.py"
ADMISSION = "shared/adapters/firestore/admission.py"
KEY_STORE = "shared/adapters/firestore/idempotency.py"
JOB_NOTICES = "shared/services/job_notifications.py"
NOTIFIER = "shared/services/notifications.py"
WORKER = "functions/bulk_job_worker.py"


def change(module: str, line: str, before: str, after: str) -> Key:
    """The mutant of `line` that turns `before` into `after`."""
    assert line.count(before) == 1, (line, before)
    return module, line, line.replace(before, after)


def only_the_description(module: str, line: str, mutated: str) -> bool:
    """The mutant changes a field's `description=` text only, or drops the Field() that held it."""
    if "description=" not in line:
        return False
    field = re.search(r"Field\((None|default_factory=\w+), description=f?\"[^\"]*\"\)", line)
    dropped = field is not None and field[1] == "None" and mutated == line.replace(field[0], "None")
    worded = re.sub(r'description=(f?)"XX(.*)XX"', r'description=\1"\2"', mutated) == line
    return dropped or worded


ANNOTATED = re.compile(r"^(?!lambda\b)[\w.]+: ")  # `name: annotation` or `name: annotation = value`


def only_the_annotation(module: str, line: str, mutated: str) -> bool:
    """The mutant changes the annotation of a name (a field, an attribute, a variable) and not its
    value, in a module whose annotations are never evaluated."""
    if not ANNOTATED.match(line) or "from __future__ import annotations" not in (ROOT / module).read_text():
        return False
    annotation, _, value = line.partition(" = ")
    changed, _, mutated_value = mutated.partition(" = ")
    return ANNOTATED.match(mutated) is not None and value == mutated_value and annotation != changed


EQUIVALENT_WHEN: list[tuple[Callable[[str, str, str], bool], str]] = [
    (only_the_annotation, "Only an annotation, which is never evaluated (`from __future__ import annotations`)."),
    (
        lambda _module, line, mutated: mutated == line.replace('mode="python"', 'mode="XXpythonXX"'),
        'pydantic dumps every mode but "json" as "python".',
    ),
    (only_the_description, "Only the wording of a field's description in the OpenAPI document."),
]

TYPING_ONLY = "Used in annotations only, which are never evaluated (`from __future__ import annotations`)."
PREFETCHED = "def prefetched(items: Iterator[T], batch: int = 200, depth: int = 4) -> Iterator[T]:"
PADDING = 'values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))'
ENCODED = 'return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")'
NEVER = "NEVER = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)"
MARKERS = 'markers = self._jobs.document(job_id).collection("batches").select(["index"])  # not the errors'
PAIRED = "for position, (w, event) in enumerate(zip(plan.writes, plan.events, strict=True)):"
PROBE_WRITE = (
    'never = wire.update(self._root.path("bulk_jobs", f"{job_id}/probes/never"), {"probe": True}, version=NEVER)'
)
REFUSED_LOG = '"job %s batch %s: the store refused %d write(s), their items fail: %s",'
SKIPPED = 'SKIPPED = {"processed": 0, "failed": 0, "has_errors": False, "errors": [], "skipped": True}'
PLAN_CHUNK = "PLAN_CHUNK = 500  # batch ranges per plan document (about 60 bytes each: far from the 1 MiB limit)"
VERSIONS = 'return {w.doc_id: version for w, version in written if w.kind != "delete"}'
ONLY_SAVES_A_READ = (
    "The versions commit_batch returns only spare evaluation reading back the products the batch "
    "created; without them (or with extra ones) evaluation reads the products and judges the same."
)
CALL_OPTIONAL = "body_optional: bool = False  # the route's: a body left out means the model's defaults"
ROUTE_DEFAULT = (
    "A default of the Call or Route dataclass, which Api.route always fills in with every field, "
    "so the default is never used."
)
TASK_TOKEN = 'given = request.headers.get(TASK_TOKEN_HEADER, "")'
ROUTE_ERRORS = "errors: tuple[int, ...] = ()  # statuses the route's shape does not imply (409s, a fixed path's 404)"
ROUTE_FILES = "files: tuple[str, ...] = ()  # media types of Download replies the route may give instead of JSON"
ROUTE_IDEMPOTENT = "idempotent: bool = False  # takes an Idempotency-Key header: a repeat gets the first answer back"
DRAINED = 'request._cached_data = b""  # too large to drain: left unread, the server drops the connection'
RETRY_COUNTS = (
    'counts = [headers.get(h, "") for h in ("X-CloudTasks-TaskRetryCount", "X-CloudTasks-TaskExecutionCount")]'
)
JWKS = "self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True) if settings.auth_jwks_url else None"

EQUIVALENT: dict[Key, str] = {
    # --- authentication and roles
    change(AUTH, JWKS, "cache_keys=True", "cache_keys=False"): (
        "Only whether PyJWKClient also keeps each signing key it built; the key set itself is cached "
        "either way, so the same keys verify the same tokens."
    ),
    change(AUTH, 'scheme, _, token = headers.get(token_header, "").partition(" ")', '""', '"XXXX"'): (
        "A missing header read as `XXXX` instead of empty: neither is a `Bearer` scheme, same 401."
    ),
    change(AUTH, 'if str(claims.get("tenant_id", "")).lower() != tenant_id:', '""', '"XXXX"'): (
        "A token without tenant_id read as `xxxx` instead of empty: neither matches a UUID header, same 403."
    ),
    change(TENANCY, 'ADMIN = "ADMIN"', '"ADMIN"', '"XXADMINXX"'): (
        "A role's value is never stored, sent or compared: tokens name roles, matched by member name "
        "(Role.from_claim), and only the VIEWER's value appears in a message."
    ),
    change(TENANCY, 'EDITOR = "EDITOR"', '"EDITOR"', '"XXEDITORXX"'): (
        "As for ADMIN: an EDITOR is never refused for writing, so its value appears nowhere."
    ),
    # --- the HTTP edge
    change(HTTP, 'log = logging.getLogger("synq.http")', '"synq.http"', '"XXsynq.httpXX"'): (
        "The logger's name only routes log lines, which are for people (and not mutated either)."
    ),
    change(HTTP, 'M = TypeVar("M", bound=BaseModel)', '"M"', '"XXMXX"'): TYPING_ONLY,
    (HTTP, 'M = TypeVar("M", bound=BaseModel)', "M = None"): TYPING_ONLY,
    change(HTTP, "return strict_json.loads(_read_body(request, cache=False))", "False", "True"): (
        "Only whether the request keeps its body after it was parsed; it is parsed once."
    ),
    change(HTTP, CALL_OPTIONAL, "False", "True"): ROUTE_DEFAULT,
    change(HTTP, CALL_OPTIONAL, "False", "None"): ROUTE_DEFAULT,
    **{
        change(HTTP, field, before, after): ROUTE_DEFAULT
        for field, before, after in [
            ("write: bool = False", "False", "True"),
            ("write: bool = False", "False", "None"),
            ("body: type[BaseModel] | None = None", "= None", '= ""'),
            ("query: type[BaseModel] | None = None", "= None", '= ""'),
            ("response: Any = None", "None", '""'),
            ("status: int = 200", "200", "201"),
            ("status: int = 200", "200", "None"),
            ("admin: bool = False  # ADMIN role only", "False", "True"),
            ("admin: bool = False  # ADMIN role only", "False", "None"),
            ("body_optional: bool = False", "False", "True"),
            ("body_optional: bool = False", "False", "None"),
            ('tag: str = ""', '""', '"XXXX"'),
            ('tag: str = ""', '= ""', "= None"),
            (ROUTE_ERRORS, "= ()", "= None"),
            (ROUTE_FILES, "= ()", "= None"),
            (ROUTE_IDEMPOTENT, "False", "True"),
            (ROUTE_IDEMPOTENT, "False", "None"),
        ]
    },
    (HTTP, "Reply = tuple[BaseModel | dict[str, Any] | Download | None, int]", "Reply = None"): TYPING_ONLY,
    (HTTP, "@dataclass(frozen=True)", "@dataclass(frozen=False)"): (
        "Download: nothing assigns to a reply once it is made."
    ),
    change(HTTP, "_map: Map | None = None", "= None", '= ""'): (
        "Api.route sets _map back to None with every route it declares; an Api without routes serves nothing."
    ),
    change(HTTP, DRAINED, 'b""', 'b"XXXX"'): (
        "What a body too large to drain is kept as: after the response only the framework's own drain "
        "reads it, and it discards whatever it gets; any bytes stop it reading the stream again."
    ),
    change(HTTP, TASK_TOKEN, '""', '"XXXX"'): (
        "A missing token header compared as `XXXX` instead of empty: neither is the configured token "
        "(a token is a secret, never `XXXX`), same 401; with no token configured nothing is compared."
    ),
    change(HTTP, RETRY_COUNTS, '""', '"XXXX"'): (
        "A missing Cloud Tasks header read as `XXXX` instead of empty: neither is a number, both are left out."
    ),
    # --- tenant roots, cursors, the read-ahead
    change(BASE, 'T = TypeVar("T")', '"T"', '"XXTXX"'): TYPING_ONLY,
    (BASE, 'T = TypeVar("T")', "T = None"): TYPING_ONLY,
    change(ADMISSION, 'T = TypeVar("T")', '"T"', '"XXTXX"'): TYPING_ONLY,
    (ADMISSION, 'T = TypeVar("T")', "T = None"): TYPING_ONLY,
    (BASE, "self.client = client", "self.client = None"): "TenantRoot.client is never read.",
    change(BASE, PADDING, "(-len(cursor) % 4)", "(+len(cursor) % 4)"): (
        "Too much padding where one '=' was missing: the base64 decoder ignores the excess, so every "
        "cursor decodes the same (test_cursors.py tries every length)."
    ),
    change(BASE, ENCODED, '.rstrip("=")', '.rstrip("XX=XX")'): (
        "Also strips trailing X's, but a cursor is a JSON array, whose base64 never ends in X (its "
        "last character encodes the low bits of `]`)."
    ),
    change(
        BASE, "return [kind(value) for kind, value in zip(kinds, values, strict=True)]", "strict=True", "strict=False"
    ): "The line above already refused a list whose length is not the number of kinds.",
    change(BASE, "if not isinstance(value, str) or len(value) > 40:", " or ", " and "): (
        "A value that is no string then reaches datetime.fromisoformat, which refuses it with a "
        "TypeError, caught as well: the same invalid cursor."
    ),
    change(BASE, "return list(query.limit(limit + 1).stream())", "+ 1", "+ 2"): (
        "Reads one document more than it needs to know whether another page follows; every page "
        "keeps `limit` items and says the same about the next."
    ),
    change(BASE, PREFETCHED, "batch: int = 200", "batch: int = 201"): (
        "How many items the reader hands over at a time: the same items arrive, in the same order."
    ),
    change(BASE, PREFETCHED, "depth: int = 4", "depth: int = 5"): (
        "How many batches the reader may read ahead: the same items arrive, in the same order."
    ),
    change(BASE, "chunks.put(chunk, timeout=0.1)", "0.1", "1.1"): (
        "How long the reader waits for room before it looks whether the caller stopped: only how soon "
        "a stopped reader ends."
    ),
    **{
        change(BASE, line, message, f'"XX{message[1:-1]}XX"'): (
            "decode_cursor turns every such ValueError into the one invalid-cursor error; its own "
            "message is never shown, stored or compared."
        )
        for line, message in [
            ('raise ValueError("wrong shape")', '"wrong shape"'),
            ('raise ValueError("not a time")', '"not a time"'),
            ('raise ValueError("not a UTC time")', '"not a UTC time"'),
            ('raise ValueError("not an id or a name")', '"not an id or a name"'),
            ('raise ValueError("not a position")', '"not a position"'),
        ]
    },
    # --- the sweep's lease
    change(
        SWEEP_STORE,
        'self, client: firestore.Client, name: str = "validation-sweep", tenant_ids: set[str] | None = None',
        '"validation-sweep"',
        '"XXvalidation-sweepXX"',
    ): (
        "The name of the document holding the production sweep's lease and cursor: any fixed name "
        "works the same (tests give each sweep a name of its own)."
    ),
    change(
        SWEEP_STORE,
        'changes: dict[str, Any] = {"owner": None, "lease_until": None}',
        '"lease_until"',
        '"XXlease_untilXX"',
    ): (
        "A released lease keeping its end: read only beside an owner, and the release names none "
        "(acquire grants a lease no one holds, save needs its owner), so it is never read again."
    ),
    change(SWEEP, "after: str | None = None", "= None", '= ""'): (
        "A cursor's position read as empty instead of none: both mean the start (`if after:`)."
    ),
    change(SWEEP, "cursor = None", "None", '""'): (
        "After the first scope the saved cursor is dropped as empty instead of none: both are false "
        "(`if cursor and ...`)."
    ),
    change(SWEEP, "if cursor is None and self.min_interval > timedelta(0):  # a new pass would start", ">", ">="): (
        "With no interval a pass would rest only if the last one ended after now: the mutant reads the "
        "record once more and goes on all the same."
    ),
    change(SWEEP, "if time.monotonic() > deadline:  # checked after a page: every run makes progress", ">", ">="): (
        "Differs only when a page took no time at all on the monotonic clock, which it never does."
    ),
    change(
        SWEEP,
        'return SweepCursor(tenant_id=scope.tenant_id, org_id=scope.org_id + "\\uffff")',
        '"\\uffff"',
        '"XX\\uffffXX"',
    ): (
        "A cursor just past an org: appending `XX...` to a UUID sorts it after that org and before the "
        "next just the same (no org id is a prefix of another)."
    ),
    # --- notification settings, signatures, URL rules
    (NOTIFICATIONS, "Resolver = Callable[[str, int], list[str]]", "Resolver = None"): TYPING_ONLY,
    change(NOTIFICATIONS, "webhook_url: str | None = None", "= None", '= ""'): (
        "A default of the settings view, which is always built with every field (from the stored "
        "settings, themselves built with every field)."
    ),
    change(NOTIFICATIONS, 'ip = ipaddress.ip_address(address.split("%", 1)[0])', '"%"', '"XX%XX"'): (
        "Python parses a scoped IPv6 address (fe80::1%eth0) itself, and the scope does not change "
        "whether the address is global."
    ),
    change(NOTIFICATIONS, 'ip = ipaddress.ip_address(address.split("%", 1)[0])', "1)[0]", "2)[0]"): (
        "An address holds one `%` at most: the first part is the same."
    ),
    change(NOTIFICATIONS, 'expected = sign(secret, body, timestamp).split(",v1=", 1)[1]', '",v1=", 1', '",v1=", 2'): (
        "Our own signature holds `,v1=` once: the second part is the same."
    ),
    change(NOTIFICATIONS, 'return hmac.compare_digest(expected, fields.get("v1", ""))', '""', '"XXXX"'): (
        "A header without v1 compared as `XXXX` instead of empty: neither is a hex digest, both refused."
    ),
    # --- export runs and notification delivery
    change(EXPORTS, "MAX_PAGE = 100", "100", "101"): (
        "The list's query already refuses a limit over 100, so min(limit, MAX_PAGE) is the limit."
    ),
    (EXPORTS, "@dataclass(frozen=True)", "@dataclass(frozen=False)"): (
        "ExportPolicy: nothing assigns to a policy once it is built."
    ),
    change(EXPORTS, 'payload=view.model_dump(mode="json"),', '"json"', '"XXjsonXX"'): (
        "The envelope is sent as JSON whole (model_dump_json): a payload of Python values (datetimes, "
        "enums, nested models) comes out as the same text."
    ),
    # --- Idempotency-Key replay
    change(IDEMPOTENCY, "if record.state is KeyState.DONE and record.response is not None:", " and ", " or "): (
        "A record is DONE exactly when its response is stored (complete writes both at once): either "
        "half alone says the same."
    ),
    # --- the job store and the batch commit
    change(
        JOBS, "after, from_batch = decode_cursor(cursor, INDEX, INDEX) if cursor else [-1, 0]", "[-1, 0]", "[-2, 0]"
    ): ("Item indices start at 0: any start below it lists the same errors."),
    (JOBS, "break", "continue"): (
        "In job_errors: reading on past a full page only reads batch markers the page then leaves out."
    ),
    **{
        (JOBS, NEVER, NEVER.replace(before, after, 1)): (
            "Another instant long before any document was written: no document was last updated "
            "then either, so the probe's last write still never applies."
        )
        for before, after in [
            ("1970", "1971"),
            ("1970, 1,", "1970, 2,"),
            ("1, 1, 0", "1, 2, 0"),
            ("1, 0, 0, 0", "1, 1, 0, 0"),
            ("0, 0, 0, 1", "0, 1, 0, 1"),
            ("0, 0, 1,", "0, 1, 1,"),
            ("0, 1, tzinfo", "0, 2, tzinfo"),
        ]
    },
    (JOBS, NEVER, "NEVER = None"): (
        "Without a version the probe's last write still expects its document to exist (wire.update), "
        "and nothing ever creates `probes/never`: it never applies either way. NEVER is a second "
        "lock on the same door (left in: the job store is being reworked on another branch)."
    ),
    change(JOBS, MARKERS, '["index"]', '["XXindexXX"]'): (
        "done_batches reads each marker's id only; the projection just spares reading the errors, "
        "and a projection on a field no marker has spares it as well."
    ),
    change(JOBS, PAIRED, "strict=True", "strict=False"): (
        "A plan's writes and events are only ever added, and left out, in pairs (BatchPlan.add, "
        "BatchPlan.without): there is never one without the other to refuse."
    ),
    **{
        change(JOBS, PROBE_WRITE, before, after): (
            "The probe's last write never applies (no document was last updated at NEVER), whatever "
            "document it names and whatever it would write."
        )
        for before, after in [
            ('"bulk_jobs"', '"XXbulk_jobsXX"'),
            ('f"{job_id}/probes/never"', 'f"XX{job_id}/probes/neverXX"'),
            ('{"probe": True}', '{"XXprobeXX": True}'),
            ('{"probe": True}', '{"probe": False}'),
        ]
    },
    change(
        JOBS,
        'raise RuntimeError("a probe commit was applied, which its last write forbids")',
        '"a probe commit was applied, which its last write forbids"',
        '"XXa probe commit was applied, which its last write forbidsXX"',
    ): "Reached only if the store applied a write whose precondition nothing meets; the words are for the log.",
    **{
        change(BATCH_COMMIT, line, before, after): "An argument of the log line that names the refused writes."
        for line, before, after in [
            (REFUSED_LOG, REFUSED_LOG[:-1], f'"XX{REFUSED_LOG[1:-2]}XX"'),
            ('"; ".join(refused.values())[:1000],', '"; "', '"XX; XX"'),
            ('"; ".join(refused.values())[:1000],', "1000", "1001"),
        ]
    },
    change(JOBS, PLAN_CHUNK, "500", "501"): (
        "How many batch ranges one plan document holds: the store writes and reads them with the same "
        "size, so any size far below the 1 MiB document limit plans and reads the same batches (the "
        "chunking test sets its own size, 2)."
    ),
    change(JOBS, VERSIONS, '!= "delete"', '== "delete"'): ONLY_SAVES_A_READ,
    change(JOBS, '"item_count": planned.item_count,', '"item_count"', '"XXitem_countXX"'): (
        "Keeps a started upload job's stored item_count true for whoever reads the store; no code "
        "reads it once the job has started (start_job only for a PENDING job), and the API shows "
        "total_items, written beside it."
    ),
    change(JOBS, "if job.started_at is None or job.status is JobStatus.COMPLETED:", " or ", " and "): (
        "with_progress: the markers are not read where their sums are known (a job not started has "
        "none, a COMPLETED job's stored counts are their final sums); reading them anyway shows the "
        "same counts, at the cost of two aggregation reads."
    ),
    change(
        JOBS, 'done = self._jobs.document(job_id).collection(markers).count(alias="done")', '"done"', '"XXdoneXX"'
    ): "The count is read by position, the query's only aggregation, not by its alias.",
    change(JOBS, "SKIP_CHUNK = 400", "400", "401"): (
        "How many skip markers a cancel creates per commit: any size up to Firestore's 500 writes "
        "per commit skips the same batches."
    ),
    change(JOBS, 'EVALUATED = "evaluated"', '"evaluated"', '"XXevaluatedXX"'): (
        "The name of a job's subcollection that only this module writes (mark_evaluated) and counts "
        "(finish_job_if_done); no index, TTL policy or other reader names it."
    ),
    **{
        change(JOBS, SKIPPED, before, after): (
            "A skip marker's processed, failed and skipped fields are for whoever reads the store: "
            "the job's counts are summed over part markers (a skipped batch has none), and nothing "
            "reads `skipped`."
        )
        for before, after in [
            ('"processed": 0', '"XXprocessedXX": 0'),
            ('"processed": 0', '"processed": 1'),
            ('"failed": 0', '"XXfailedXX": 0'),
            ('"failed": 0', '"failed": 1'),
            ('"skipped": True', '"XXskippedXX": True'),
            ('"skipped": True', '"skipped": False'),
        ]
    },
    change(JOBS, SKIPPED, '"has_errors": False', '"XXhas_errorsXX": False'): (
        "The errors query asks for has_errors true: a skip marker without the field is left out of "
        "it as one with false is."
    ),
    change(JOBS, SKIPPED, '"has_errors": False', '"has_errors": True'): (
        "The errors query then reads the skip markers too, whose errors list is empty: the same "
        "errors, pages and cursors."
    ),
    change(JOBS, SKIPPED, '"errors": []', '"XXerrorsXX": []'): (
        "Only the errors query reads a marker's errors, and it never reads a skip marker (has_errors false)."
    ),
    change(JOBS, VERSIONS, '"delete"', '"XXdeleteXX"'): ONLY_SAVES_A_READ,
    change(JOBS, 'raise NotFoundError("bulk job not found")', '"bulk job not found"', '"XXbulk job not foundXX"'): (
        "In start_job only (the same line in get_job is killed by the 404 tests): the job vanishing "
        "between the worker's read and its start transaction cannot happen, jobs are never deleted."
    ),
    # --- the Idempotency-Key store
    change(
        KEY_STORE,
        "PART_BYTES = 900_000  # under the 1 MiB document limit with room for the other fields",
        "900_000",
        "900001",
    ): (
        "How many compressed bytes one part document holds: written and read with the same size, so any "
        "size well under the 1 MiB document limit keeps an answer whole (tested at one, two and three parts)."
    ),
    change(KEY_STORE, "PARTS_PER_COMMIT = 8  # well under 10 MiB per commit", "8", "9"): (
        "Parts written per commit: 9 parts of 900,000 bytes are still under the 10 MiB commit limit, and "
        "every part is written either way."
    ),
    change(
        KEY_STORE,
        'chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)] or [b""]',
        'b""',
        'b"XXXX"',
    ): ("zlib's output is never empty (an empty body compresses to 8 bytes), so the fallback is never taken."),
    change(KEY_STORE, 'if data.get("state") == KeyState.DONE.value and "response_status" in data:', " and ", " or "): (
        "An answer is stored with the DONE state in one update, and a takeover deletes the answer's fields "
        "with its claim (tested): a record has both or neither."
    ),
    change(KEY_STORE, 'if data["response_parts"] > 1:', "> 1", ">= 1"): (
        "With one part, the parts collection is read and found empty: the same body, one read more."
    ),
    # --- a bulk job's announcements
    change(JOB_NOTICES, "view = job.view(include_payload=False)", "False", "True"): (
        "The event's payload is dumped with `exclude={\"payload\", ...}`: the job's payload is left out either way."
    ),
    change(JOB_NOTICES, "lambda: job_email_text(job.view(include_payload=False)),", "False", "True"): (
        "The email's text names the job's type, status, counts, failure reason and dry-run report, never its payload."
    ),
    change(
        JOB_NOTICES,
        'payload=view.model_dump(mode="json", exclude={"payload", "notification"}),',
        'mode="json"',
        'mode="XXjsonXX"',
    ): (
        'pydantic dumps any mode but "json" as Python objects, and the envelope is then written as JSON '
        "by pydantic, which renders datetimes and enums as the json mode does: the same bytes."
    ),
    # --- one delivery attempt, and the bulk worker's entry point
    (NOTIFIER, "@dataclass(frozen=True)", "@dataclass(frozen=False)"): (
        "NotifyPolicy and Attempted: nothing assigns to a policy or an attempt's outcome once built."
    ),
    (WORKER, "@functions_framework.http", ""): (
        "The decorator registers the function as an HTTP function, which is what functions-framework "
        "takes a target to be when none is registered: served the same either way."
    ),
    # --- the webhook sender
    change(WEBHOOKS, "return time.monotonic() >= self._at", ">=", ">"): (
        "Differs only if the clock reads the deadline's exact nanosecond."
    ),
    change(WEBHOOKS, "if left <= 0:", "<=", "<"): "Differs only if the clock reads the deadline's exact nanosecond.",
    **{
        change(WEBHOOKS, "self._timer.daemon = True", "True", after): (
            "post() always stops the deadline (finally), cancelling its timer: no timer outlives an "
            "attempt to hold the process open."
        )
        for after in ("False", "None")
    },
    change(
        WEBHOOKS,
        "connection.timeout = deadline.remaining()  # each socket operation; the deadline bounds the sum",
        "deadline.remaining()",
        "None",
    ): (
        "With no socket timeout, the deadline's shutdown alone ends a blocked read or write, at the "
        "moment the timeout would have: the attempt fails the same, with the same words."
    ),
    change(
        WEBHOOKS,
        '"POST", target.target, body=body, headers=headers, preload_content=False, decode_content=False',
        "decode_content=False",
        "decode_content=True",
    ): (
        "The answer's body is read only to be dropped, its errors ignored, at most MAX_RESPONSE_BYTES "
        "either way: decoded or not, the status is the answer."
    ),
    change(WEBHOOKS, "self._sock = None", "None", '""'): (
        "In stop(), the deadline's last call: nothing reads the socket after it."
    ),
    # --- webhook URLs
    (NOTIFICATIONS, "@dataclass(frozen=True)", "@dataclass(frozen=False)"): (
        "WebhookTarget: nothing assigns to a parsed URL."
    ),
    (NOTIFICATIONS, '_URL_SAFE = "/:@!$&\'()*+,;=-._~%?"', '_URL_SAFE = "XX/:@!$&\'()*+,;=-._~%?XX"'): (
        "Adds X to the characters quote() leaves alone, which it never quotes anyway (letters are always safe)."
    ),
    change(NOTIFICATIONS, 'name = hostname.rstrip(".")', '"."', '"XX.XX"'): (
        "Also strips a trailing X, which a host name never has here: urlsplit's hostname is lower-cased."
    ),
}

NOT_YET_KILLED: dict[Key, str] = {
    change(
        WEBHOOKS,
        "CONNECT_TIMEOUT_CAP = 5.0  # per address, so a dead first address leaves time for the next",
        "5.0",
        "6.0",
    ): (
        "Waiting 6 seconds for a connection instead of 5: only a test timing it could tell, and tests "
        "assert no timings."
    ),
    change(
        WEBHOOKS,
        "self._timer = threading.Timer(max(0.0, self._at - time.monotonic()), self._expire)",
        "max(0.0",
        "max(1.0",
    ): (
        "A floor of 1 s under the timer cuts a connection late only when less than a second is left: "
        "a test timing the cut could tell, and tests assert no timings (a socket timeout set to the "
        "time left still ends a blocked read at the deadline, which passed() then reports)."
    ),
    change(SWEEP, "LEASE = timedelta(minutes=2)", "minutes=2", "minutes=3"): (
        "The lease's length only decides how soon another run may take over from a sweep that died; "
        "the lease tests pass it explicitly, and a test of the constant would only restate it."
    ),
    (
        HTTP,
        'raise PayloadTooLargeError(f"request body over {limit} bytes") from exc',
        'raise PayloadTooLargeError(f"XXrequest body over {limit} bytesXX") from exc',
    ): (
        "Reached only if werkzeug raises while reading a body: a length said over the limit is a 413 "
        "before any read, and a body sent without one is cut at the limit and found too large by its "
        "size, the line below (killed by test_a_body_sent_without_a_length_over_the_limit_is_413). "
        "Kept for a werkzeug that raises instead; no test reaches it with this one."
    ),
}


def reason(module: str, line: str, mutated: str) -> tuple[str | None, bool]:
    """Why the mutant survives, if recorded, and whether it is equivalent."""
    key = (module, line, mutated)
    if key in EQUIVALENT:
        return EQUIVALENT[key], True
    for applies, why in EQUIVALENT_WHEN:
        if applies(module, line, mutated):
            return why, True
    return NOT_YET_KILLED.get(key), False


def mutated_line(source: str, line: str, index: int, line_number: int) -> str:
    """The line as mutant (`line`, `index`) of `source` makes it ("" if it removes the line)."""
    from mutmut import Context, RelativeMutationID, mutate

    context = Context(source=source, mutation_id=RelativeMutationID(line=line, index=index, line_number=line_number))
    before, after = source.splitlines(), mutate(context)[0].splitlines()
    changed = [b for a, b in zip(before, after, strict=False) if a != b]
    return (changed[0] if changed else after[line_number] if len(after) == len(before) else "").strip()
