"""The fast write encoder produces exactly the messages the Firestore client library would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import common, document, write

from shared.adapters.firestore import wire

PATH = "projects/p/databases/(default)/documents/tenants/t/orgs/o/products/x"
VALUES = [
    None,
    True,
    False,
    0,
    -7,
    2**62,
    1.5,
    "",
    "héllo",
    datetime(2026, 11, 27, 12, 30, 5, 123456, tzinfo=UTC),
    {},
    {"a": 1, "b": {"c": [1, "x", None]}},
    [],
    [1, 2.5, "three", {"four": 4}],
    b"\x00\x01",
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_encode_as_the_library_encodes_them(value: object) -> None:
    ours = document.Value.pb()()
    wire.fill(ours, value)
    assert ours == document.Value.pb(_helpers.encode_value(value))


def test_a_create_matches_the_librarys_create() -> None:
    data = {"title": "Lamp", "attributes": {}, "tags": [], "n": 3, "at": datetime(2026, 1, 1, tzinfo=UTC)}
    [theirs] = _helpers.pbs_for_create(PATH, data)
    assert wire.create(PATH, data) == write.Write.pb(theirs)


def test_an_update_sets_only_its_fields_and_guards_the_version() -> None:
    version = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    pb = wire.update(PATH, {"title": "New", "my field": 1}, version=version, increments={"n": 2})
    assert list(pb.update_mask.field_paths) == ["title", "`my field`"]
    assert pb.current_document.update_time.ToDatetime(tzinfo=UTC) == version
    assert [(t.field_path, t.increment.integer_value) for t in pb.update_transforms] == [("n", 2)]
    unguarded = wire.update(PATH, {"title": "New"})
    assert unguarded.current_document == common.Precondition.pb()(exists=True)


def test_unstorable_values_are_refused() -> None:
    with pytest.raises(TypeError, match="naive"):
        wire.fill(document.Value.pb()(), datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(TypeError, match="Decimal"):
        from decimal import Decimal

        wire.fill(document.Value.pb()(), Decimal("1.5"))


def test_an_array_merge_matches_the_librarys_set_merge_with_array_transforms() -> None:
    from google.cloud.firestore_v1 import ArrayRemove, ArrayUnion

    [theirs] = _helpers.pbs_for_set_with_merge(PATH, {"sku": "S", "holders": ArrayUnion(["a", "b"])}, merge=True)
    assert wire.merge_array(PATH, {"sku": "S"}, "holders", ["a", "b"], []) == write.Write.pb(theirs)
    [theirs] = _helpers.pbs_for_set_with_merge(PATH, {"sku": "S", "holders": ArrayRemove(["c"])}, merge=True)
    assert wire.merge_array(PATH, {"sku": "S"}, "holders", [], ["c"]) == write.Write.pb(theirs)
