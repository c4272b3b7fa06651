"""A bounded fuzzing run over the served OpenAPI document, in process: every operation gets data
built from the document (valid and deliberately invalid), sent with a real token of a fresh
tenant. No answer may be a 5xx, and every answer must be one the document describes (status,
content type and body schema). `make fuzz` runs the same checks longer against the local stack."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from functions.openapi import document

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation and mode: enough to catch a careless route, short enough for every run


# The document is built from the route table without any service running, exactly as served.
schema = schemathesis.openapi.from_dict(document())
schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES, allow_x00=True)


@schema.parametrize()
# schemathesis's own strategies use `random`, which Hypothesis now warns about; not ours to mend.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_and_every_answer_documented(case: Any, app: Any, auth: dict[str, str]) -> None:
    # The token and scope headers are the tenant's own, so requests get past authentication and
    # reach the handlers; the generated ones (often invalid on purpose) would stop at the door.
    case.call_and_validate(app=app, headers=auth, checks=CHECKS)
