"""Catalog statistics as the API shows them: the summed counters (shared/domain/counters.py),
the recent bulk jobs and the newest export, for a dashboard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, Field

from shared.domain.catalog import ProductStatus
from shared.domain.counters import BLOCKED, ISSUES, PRODUCTS, SCORE, SCORE_BUCKETS, UNSCORED, CounterPath
from shared.domain.exports import ExportView
from shared.domain.models import JobStatus, JobType
from shared.domain.quality import Severity


class ProductCounts(BaseModel):
    total: int = Field(description="Live products (deleted ones are gone).")
    by_status: dict[str, int] = Field(description="ACTIVE, DRAFT and ARCHIVED, each present (0 when none).")


class ScoreBucket(BaseModel):
    min: int = Field(description="Lowest score in the bucket.")
    max: int = Field(description="Highest score in the bucket (the last bucket holds 90-100).")
    count: int


class ScoreDistribution(BaseModel):
    buckets: list[ScoreBucket] = Field(description="Ten buckets of `data_quality_score`: 0-9, 10-19, ..., 90-100.")
    unscored: int = Field(description="Products stored before scores existed (none once each is written again).")


class IssueCount(BaseModel):
    code: str
    severity: str
    count: int


class IssueCounts(BaseModel):
    open: int = Field(description="Unresolved validation issues.")
    by_severity: dict[str, int] = Field(description="WARNING and ERROR, each present.")
    by_code: list[IssueCount] = Field(
        description="Per code and severity, most frequent first; codes with none left out."
    )


class JobCounts(BaseModel):
    since: datetime = Field(description="Jobs created from this moment on are counted (7 days before `generated_at`).")
    total: int
    by_type: dict[str, dict[str, int]] = Field(
        description="Per job type, per status: every type and status present (0 when none)."
    )


class CatalogStats(BaseModel):
    """Aggregate figures of one tenant's org, for a dashboard."""

    tenant_id: str
    org_id: str
    generated_at: datetime
    products: ProductCounts
    data_quality_score: ScoreDistribution
    validation_issues: IssueCounts
    products_blocked_from_export: int = Field(description="Products with an open ERROR issue: exports leave them out.")
    bulk_jobs: JobCounts = Field(description="Bulk jobs created in the last 7 days.")
    last_export: ExportView | None = Field(
        description="The newest export, as the export list shows it (no download URL: GET /exports/{id} signs one)."
    )


def catalog_stats(
    tenant_id: str,
    org_id: str,
    counters: Mapping[CounterPath, int],
    jobs: Iterable[tuple[str, str]],
    since: datetime,
    last_export: ExportView | None,
    now: datetime,
) -> CatalogStats:
    """The figures, from the summed counters, the (type, status) of each recent job, and the newest export."""
    by_status = {str(s): counters.get((PRODUCTS, str(s)), 0) for s in ProductStatus}
    for path, n in counters.items():  # a status not known to this code (yet) is still shown
        if len(path) == 2 and path[0] == PRODUCTS:
            by_status.setdefault(path[1], n)
    buckets = [
        ScoreBucket(
            min=b * 10, max=b * 10 + 9 if b < SCORE_BUCKETS - 1 else 100, count=counters.get((SCORE, str(b)), 0)
        )
        for b in range(SCORE_BUCKETS)
    ]
    issues = sorted(
        (
            IssueCount(code=path[1], severity=path[2], count=n)
            for path, n in counters.items()
            if len(path) == 3 and path[0] == ISSUES and n
        ),
        key=lambda i: (-i.count, i.code, i.severity),
    )
    by_severity = {str(s): 0 for s in Severity}
    for issue in issues:
        by_severity[issue.severity] = by_severity.get(issue.severity, 0) + issue.count
    by_type = {str(t): {str(s): 0 for s in JobStatus} for t in JobType}
    total_jobs = 0
    for job_type, status in jobs:
        by_type.setdefault(job_type, {}).setdefault(status, 0)
        by_type[job_type][status] += 1
        total_jobs += 1
    return CatalogStats(
        tenant_id=tenant_id,
        org_id=org_id,
        generated_at=now,
        products=ProductCounts(total=sum(by_status.values()), by_status=by_status),
        data_quality_score=ScoreDistribution(buckets=buckets, unscored=counters.get((SCORE, UNSCORED), 0)),
        validation_issues=IssueCounts(open=sum(i.count for i in issues), by_severity=by_severity, by_code=issues),
        products_blocked_from_export=counters.get((BLOCKED,), 0),
        bulk_jobs=JobCounts(since=since, total=total_jobs, by_type=by_type),
        last_export=last_export,
    )
