"""What a bulk job's end is announced as: the event type, the email's subject and text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.models import BulkJob, BulkJobView, DryRunReport, JobStatus
from shared.domain.notifications import EventEnvelope, job_email_text, job_event_type

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
JOB_ID = str(uuid.UUID(int=7))


def view(**changes: Any) -> BulkJobView:
    job = {
        "id": JOB_ID,
        "tenant_id": "t",
        "org_id": "o",
        "job_type": "BULK_IMPORT",
        "status": "COMPLETED",
        "created_at": NOW,
        "updated_at": NOW,
        "started_at": NOW,
        "completed_at": NOW,
        "created_by": "ops@example.com",
        "item_count": 10,
        "total_items": 10,
        "processed_items": 10,
        "failed_items": 0,
        "payload": "gs://bucket/payload.json",
        "payload_bytes": 100,
        "batches": [],
    }
    return BulkJob.model_validate({**job, **changes}).view(include_payload=False)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (JobStatus.COMPLETED, "bulk_job.completed"),
        (JobStatus.FAILED, "bulk_job.failed"),
        (JobStatus.CANCELLED, "bulk_job.cancelled"),
    ],
)
def test_a_jobs_event_type_names_its_final_status(status: JobStatus, kind: str) -> None:
    assert job_event_type(status) == kind


@pytest.mark.parametrize("missing", ["event_id", "timestamp"])
def test_an_event_always_says_which_it_is_and_when_it_happened(missing: str) -> None:
    event = {"event_id": "e", "event_type": "bulk_job.completed", "timestamp": NOW, "tenant_id": "t", "org_id": "o"}
    with pytest.raises(ValidationError, match=missing):
        EventEnvelope.model_validate({**{k: v for k, v in event.items() if k != missing}, "payload": {}})


def test_the_email_of_a_job_without_failures_says_what_it_applied() -> None:
    assert job_email_text(view()) == (
        "Your bulk import job completed (10 applied, 0 failed)",
        f"Bulk import job {JOB_ID}: COMPLETED\nItems: 10\nApplied: 10\nFailed: 0\n",
    )


def test_the_email_of_a_job_with_failures_points_at_every_one() -> None:
    subject, text = job_email_text(view(job_type="BULK_UPDATE", processed_items=7, failed_items=3))
    assert subject == "Your bulk update job completed (7 applied, 3 failed)"
    assert text == (
        f"Bulk update job {JOB_ID}: COMPLETED\nItems: 10\nApplied: 7\nFailed: 3\n\n"
        f"Every failure: GET /api/v1/pim/bulk-jobs/{JOB_ID}/errors\n"
    )


def test_the_email_of_a_failed_job_says_why_and_counts_no_items_it_never_read() -> None:
    why = "the stored payload is unreadable"
    failed = view(status="FAILED", total_items=None, processed_items=0, failure_reason=why)
    assert job_email_text(failed) == (
        "Your bulk import job failed (0 applied, 0 failed)",
        f"Bulk import job {JOB_ID}: FAILED\nItems: 0\nApplied: 0\nFailed: 0\nWhy it failed: {why}\n",
    )


def test_the_email_of_a_dry_run_says_what_it_would_do() -> None:
    report = DryRunReport(creates=0, updates=1, deletes=9, issues={"MISSING_SKU": 2, "DUPLICATE_SKU": 1})
    dry = view(job_type="BULK_DELETE", dry_run=True, dry_run_report=report)
    assert job_email_text(dry) == (
        "Your bulk delete dry run completed (10 applied, 0 failed)",
        f"Bulk delete dry run {JOB_ID}: COMPLETED\nItems: 10\nApplied: 10\nFailed: 0\n"
        "Would create 0, update 1, delete 9\n  MISSING_SKU: 2\n  DUPLICATE_SKU: 1\n",
    )
