"""What makes an Idempotency-Key valid and two requests the same."""

from __future__ import annotations

import pytest

from shared.domain.idempotency import check_key, fingerprint, key_id
from shared.errors import InvalidArgumentError


@pytest.mark.parametrize("key", ["a", "~" * 255, "import 2026-11-30/lamps.csv", "6f1c0b0e-7a2d-4c1e-9a55-0b8e0b6f7c11"])
def test_printable_ascii_keys_up_to_255_characters_are_accepted(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\there", "line\nbreak", "caf\u00e9", "\x7f"])
def test_other_keys_are_refused_naming_the_header(key: str) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        check_key(key)
    assert refused.value.details[0].field == "Idempotency-Key"


def test_the_same_json_written_differently_is_the_same_request() -> None:
    one = fingerprint("POST", "/api/v1/pim/bulk-jobs", b'{"job_type": "BULK_IMPORT", "payload": [{"title": "a"}]}')
    two = fingerprint("post", "/api/v1/pim/bulk-jobs/", b'{"payload":[{"title":"a"}],"job_type":"BULK_IMPORT"}')
    assert one == two


def test_another_body_path_or_method_is_another_request() -> None:
    base = fingerprint("POST", "/api/v1/pim/exports", b'{"format": "CSV"}')
    assert base != fingerprint("POST", "/api/v1/pim/exports", b'{"format": "NDJSON"}')
    assert base != fingerprint("POST", "/api/v1/pim/bulk-jobs", b'{"format": "CSV"}')
    assert base != fingerprint("PUT", "/api/v1/pim/exports", b'{"format": "CSV"}')
    assert fingerprint("POST", "/x", b"not json") != fingerprint("POST", "/x", b"not  json")


def test_any_key_makes_a_document_id() -> None:
    assert key_id("a/b") != key_id("a.b") and len(key_id(".")) == 64 and "/" not in key_id("a/b")
