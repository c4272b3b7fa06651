"""How a request's trace and id are read for its log lines, and how a line is written."""

from __future__ import annotations

import json
import logging

import pytest

from shared import logs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, (TRACE, "00f067aa0ba902b7")),
        ({"X-Cloud-Trace-Context": f"{TRACE.upper()}/255;o=1"}, (TRACE, "00000000000000ff")),
        ({"X-Cloud-Trace-Context": TRACE}, (TRACE, None)),
        # traceparent wins; malformed values give no trace rather than a wrong one
        (
            {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": "f" * 32},
            (TRACE, "00f067aa0ba902b7"),
        ),
        ({"traceparent": "00-xyz-00f067aa0ba902b7-01"}, (None, None)),
        ({"X-Cloud-Trace-Context": "not a trace"}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_the_trace_comes_from_traceparent_or_the_cloud_trace_header(
    headers: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    assert logs.trace_of(headers) == expected


def test_a_request_id_that_is_not_a_plain_id_is_replaced() -> None:
    assert logs.request_id_of({"X-Request-ID": "abc-123"}) == "abc-123"
    for given in ("", "a b", "x" * 65, 'a"}\n{"severity": "ERROR"'):
        replaced = logs.request_id_of({"X-Request-ID": given})
        assert replaced != given and len(replaced) == 32


def test_a_line_is_one_json_object_with_severity_trace_and_labels() -> None:
    formatter = logs.JsonFormatter("proj-1")
    record = logging.LogRecord("synq.x", logging.WARNING, __file__, 1, "two\nlines %s", ("here",), None)
    with logs.request_context({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "X-Request-ID": "r-1"}):
        logs.bind(tenant_id="t-1", job_id="j-1", org_id=None)
        line = formatter.format(record)
        assert logs.onward_headers() == {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "X-Request-ID": "r-1"}
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["severity"] == "WARNING" and entry["message"] == "two\nlines here"
    assert entry[logs.TRACE_FIELD] == f"projects/proj-1/traces/{TRACE}"
    assert entry[logs.SPAN_FIELD] == "00f067aa0ba902b7"
    assert entry[logs.LABELS_FIELD] == {"request_id": "r-1", "tenant_id": "t-1", "job_id": "j-1"}
    # outside the request, nothing of it remains
    assert logs.LABELS_FIELD not in json.loads(formatter.format(record)) and logs.onward_headers() == {}


def test_only_known_labels_are_bound() -> None:
    with pytest.raises(ValueError, match="not a log label"):
        logs.bind(payload="x")
