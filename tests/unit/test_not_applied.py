"""A batch given up on: every item recorded NOT_APPLIED, naming the product its item named."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.bulk import not_applied
from shared.domain.models import BatchRange, JobType

BATCH = BatchRange(index=2, first_item=80, item_count=3, start=0, end=0)


@pytest.mark.parametrize(
    ("job_type", "items", "ids"),
    [
        (JobType.BULK_IMPORT, [{"title": "a"}, {"title": "b"}, {}], [None, None, None]),
        (JobType.BULK_UPDATE, [{"id": "p1"}, {"title": "no id"}, {"id": 7}], ["p1", None, None]),
        (JobType.BULK_DELETE, ["p1", "p2", "x" * 300], ["p1", "p2", "x" * 128]),
        (JobType.BULK_DELETE, None, [None, None, None]),  # the payload could not be read
    ],
)
def test_every_item_of_the_batch_is_recorded_and_nothing_written(
    job_type: JobType, items: list[Any] | None, ids: list[str | None]
) -> None:
    plan = not_applied(job_type, BATCH, items, "the batch failed 10 time(s)")
    assert (plan.writes, plan.events, plan.processed) == ([], [], 0)
    assert [(e.index, e.id, e.code) for e in plan.errors] == [(80 + i, ids[i], "NOT_APPLIED") for i in range(3)]
    assert {e.message for e in plan.errors} == {"not applied: the batch failed 10 time(s)"}


def test_a_long_reason_is_cut_to_the_message_limit() -> None:
    [first, *_] = not_applied(JobType.BULK_IMPORT, BATCH, None, "x" * 1000).errors
    assert len(first.message) == 300 and first.message.startswith("not applied: x")
