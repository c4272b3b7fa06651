"""Logs as Cloud Logging reads them: one JSON object per line on stderr, with `severity`,
`message`, the request's trace and labels (tenant_id, org_id, job_id, export_id, request_id), so
that one filter such as `labels.job_id="..."` follows a job through the API, its tasks and its
notifications.

The labels and trace of the work in hand live in a context variable: the HTTP edge opens a
context per request (`request_context`) and binds what it learns (`bind`); queued tasks carry the
trace and request id onwards (`onward_headers`), so a task's lines share them with the request
that queued it. Only ids are ever labels; tokens, secrets and payloads are never logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
LABELS_FIELD = "logging.googleapis.com/labels"
LABEL_NAMES = ("tenant_id", "org_id", "job_id", "export_id", "request_id")
REQUEST_ID_HEADER = "X-Request-ID"

# W3C: version-traceid-parentid-flags; Google's: TRACE_ID/SPAN_ID;o=OPTIONS (span in decimal).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=[0-9])?$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # anything else is replaced, never logged
_SEVERITY = {"WARNING": "WARNING", "CRITICAL": "CRITICAL", "ERROR": "ERROR", "INFO": "INFO", "DEBUG": "DEBUG"}


class HeaderLookup(Protocol):
    """Request headers (werkzeug's, or a plain dict)."""

    def get(self, key: str, default: str, /) -> str: ...


@dataclass(frozen=True)
class LogContext:
    trace_id: str | None = None
    span_id: str | None = None  # 16 hex digits
    labels: Mapping[str, str] = field(default_factory=dict)


_current: ContextVar[LogContext] = ContextVar("synq_log_context", default=LogContext())  # noqa: B039 - frozen


def trace_of(headers: HeaderLookup) -> tuple[str | None, str | None]:
    """(trace id, span id) from `traceparent`, else `X-Cloud-Trace-Context`; (None, None) if neither
    is well formed."""
    if match := _TRACEPARENT.match(headers.get("traceparent", "").strip()):
        return match[1], match[2]
    if match := _CLOUD_TRACE.match(headers.get("X-Cloud-Trace-Context", "").strip()):
        span = f"{int(match[2]):016x}" if match[2] and int(match[2]) < 2**64 else None
        return match[1].lower(), span
    return None, None


def request_id_of(headers: HeaderLookup) -> str:
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


@contextmanager
def request_context(headers: HeaderLookup) -> Iterator[str]:
    """The log context of one request: its trace, and its request id (the caller's X-Request-ID if
    it is a plain id, else a new one), which it yields."""
    trace_id, span_id = trace_of(headers)
    request_id = request_id_of(headers)
    token = _current.set(LogContext(trace_id, span_id, {"request_id": request_id}))
    try:
        yield request_id
    finally:
        _current.reset(token)


def bind(**labels: object) -> None:
    """Add labels to the current context (known names only; None is skipped)."""
    unknown = set(labels) - set(LABEL_NAMES)
    if unknown:
        raise ValueError(f"not a log label: {', '.join(sorted(unknown))}")
    context = _current.get()
    added = {k: str(v) for k, v in labels.items() if v is not None}
    _current.set(replace(context, labels={**context.labels, **added}))


@contextmanager
def labelled(**labels: object) -> Iterator[None]:
    """Labels for the lines written inside the block only (work on many records in one request)."""
    token = _current.set(_current.get())
    try:
        bind(**labels)
        yield
    finally:
        _current.reset(token)


def labels_of(model: Any) -> dict[str, object]:
    """The label fields a task model or record carries (`tenant_id`, `job_id`, ...); a task that is
    one of several kinds (a RootModel) is read through its root."""
    model = getattr(model, "root", model)
    return {name: getattr(model, name) for name in LABEL_NAMES if getattr(model, name, None) is not None}


def onward_headers() -> dict[str, str]:
    """Headers that carry the current trace and request id to work queued from here."""
    context = _current.get()
    headers = {}
    if context.trace_id:
        headers["traceparent"] = f"00-{context.trace_id}-{context.span_id or uuid.uuid4().hex[:16]}-01"
    if request_id := context.labels.get("request_id"):
        headers[REQUEST_ID_HEADER] = request_id
    return headers


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON in Cloud Logging's structured-logging format."""

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self._project = project  # None: the settings' GCP_PROJECT, read when a line needs it

    @property
    def project(self) -> str:
        if self._project is None:
            from shared.settings import get_settings  # late: logging is set up before settings are read

            return get_settings().gcp_project
        return self._project

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        context = _current.get()
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": message,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        if context.trace_id:
            entry[TRACE_FIELD] = f"projects/{self.project}/traces/{context.trace_id}"
            if context.span_id:
                entry[SPAN_FIELD] = context.span_id
        if context.labels:
            entry[LABELS_FIELD] = dict(context.labels)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(project: str | None = None, level: int = logging.INFO) -> None:
    """Route every record of the process through one JSON handler on stderr (once per process)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(project))
    root.handlers = [h for h in root.handlers if type(h) is not logging.StreamHandler] + [handler]
    root.setLevel(level)
