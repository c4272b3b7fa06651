"""Committing a batch when the store may refuse some of its data.

The domain rules keep every value storable; this is the defence for a value that slips through
them. A batch is one atomic write, so one refused value would refuse the whole batch on every
delivery, and its job would never finish. Instead the writes the store refuses are found
(without writing anything), their items reported as failed, and the rest committed: still one
atomic write with the batch's marker and counters, so redelivery and concurrent delivery stay as
harmless as ever (a later delivery finds the marker, or loses the race for it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.domain.bulk import BatchPlan, not_applied, remaining
from shared.domain.models import BatchRange, BulkJob
from shared.errors import StoreRefusedError
from shared.services.ports import JobStore

log = logging.getLogger(__name__)


def commit_batch(
    jobs: JobStore, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime, end_item: int | None = None
) -> tuple[BatchPlan, dict[str, Any] | None]:
    """Commit the batch as `jobs.commit_batch` does (or, given `end_item`, one leading part of it
    as `jobs.commit_part` does), less any writes the store refuses; returns the plan committed
    (their items among its errors) and what the store returned."""
    while True:  # each round takes at least one write out, so it ends
        try:
            if end_item is not None:
                return plan, jobs.commit_part(job_id, batch, plan, end_item, now)
            return plan, jobs.commit_batch(job_id, batch, plan, now)
        except StoreRefusedError:
            refused = jobs.refused_writes(job_id, plan)
            if not refused:
                raise  # no one item's data is at fault: retried, and logged as the bug it is
            log.error(
                "job %s batch %s: the store refused %d write(s), their items fail: %s",
                job_id,
                batch.index,
                len(refused),
                "; ".join(refused.values())[:1000],
            )
            plan = plan.without(refused)


def not_applied_after_parts(
    jobs: JobStore,
    job: BulkJob,
    batch: BatchRange,
    items: list[Any] | None,
    why: str,
    lines: list[int | None] | None = None,
) -> BatchPlan:
    """A batch given up on: its items after any parts already committed recorded NOT_APPLIED."""
    earlier = jobs.batch_parts(job.id, batch.index)
    rest = remaining(batch, earlier)
    skip = rest.first_item - batch.first_item
    plan = not_applied(
        job.job_type,
        rest,
        items[skip:] if items is not None else None,
        why,
        lines[skip:] if lines is not None else None,
    )
    plan.earlier = earlier
    return plan
