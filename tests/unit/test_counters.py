"""The catalog counters' deltas and the stats view: pure functions, no storage."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.audit import ChangeContext
from shared.domain.catalog import (
    Product,
    ProductFields,
    VariantFields,
    add_variant,
    create_product,
    delete_product,
    update_product,
)
from shared.domain.counters import combined, flatten, product_deltas, score_bucket, summary_deltas
from shared.domain.quality import QualitySummary, Severity, first_records
from shared.domain.stats import catalog_stats

NOW = datetime(2026, 11, 30, tzinfo=UTC)
CTX = ChangeContext("t", "o", "a@example.com", NOW)


def product(pid: str = "p1", status: str = "ACTIVE", score: int | None = 50, **fields: Any) -> Product:
    return Product(
        id=pid,
        tenant_id="t",
        org_id="o",
        title="A product title",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        data_quality_score=score,
        **fields,
    )


def summary(pid: str, *codes: tuple[str, str]) -> QualitySummary:
    found = first_records(product(pid, barcode="123", sku=None), "t", "o", NOW).summary.open  # real issues, to reshape
    template = found[0]
    issues = [template.model_copy(update={"id": f"{pid}.{c}", "code": c, "severity": Severity(s)}) for c, s in codes]
    return QualitySummary(product_id=pid, open=issues, evaluated_at=NOW)


@pytest.mark.parametrize(
    ("score", "bucket"), [(0, 0), (9, 0), (10, 1), (59, 5), (60, 6), (89, 8), (90, 9), (99, 9), (100, 9)]
)
def test_scores_fall_in_ten_buckets_the_last_holding_100(score: int, bucket: int) -> None:
    assert score_bucket(score) == bucket


def test_a_product_counts_by_status_and_score_bucket() -> None:
    assert product_deltas(None, product(score=73)) == {("products", "ACTIVE"): 1, ("score", "7"): 1}
    assert product_deltas(product(score=73), None) == {("products", "ACTIVE"): -1, ("score", "7"): -1}
    assert product_deltas(product(status="DRAFT", score=73), product(status="ARCHIVED", score=95)) == {
        ("products", "DRAFT"): -1,
        ("products", "ARCHIVED"): 1,
        ("score", "7"): -1,
        ("score", "9"): 1,
    }
    # What does not move a counted value moves nothing (a new description in the same bucket).
    assert product_deltas(product(score=71), product(score=78, description="longer")) == {}
    assert product_deltas(None, product(score=None)) == {("products", "ACTIVE"): 1, ("score", "none"): 1}


def test_a_summary_counts_its_open_issues_and_whether_it_blocks_exports() -> None:
    before = summary("p1", ("MISSING_SKU", "WARNING"), ("INVALID_BARCODE", "ERROR"))
    after = summary("p1", ("MISSING_SKU", "WARNING"))
    assert before.blocks_export and not after.blocks_export
    assert summary_deltas(None, before) == {
        ("issues", "MISSING_SKU", "WARNING"): 1,
        ("issues", "INVALID_BARCODE", "ERROR"): 1,
        ("blocked",): 1,
    }
    assert summary_deltas(before, after) == {("issues", "INVALID_BARCODE", "ERROR"): -1, ("blocked",): -1}
    assert summary_deltas(after, after) == {}
    assert summary_deltas(before, None) == {k: -v for k, v in summary_deltas(None, before).items()}


def test_the_catalog_writes_carry_their_deltas() -> None:
    created = create_product(ProductFields(title="Desk lamp", status="DRAFT"), "p1", CTX)
    made = created.product
    assert made is not None and made.data_quality_score is not None
    bucket = str(score_bucket(made.data_quality_score))
    assert created.write.counts == {("products", "DRAFT"): 1, ("score", bucket): 1}
    updated, change = update_product(made, "v1", {"status": "ACTIVE"}, CTX)
    assert change.write.counts == {("products", "DRAFT"): -1, ("products", "ACTIVE"): 1}
    # A variant with a price moves the score (at least one priced variant: 10 points).
    _, with_variant = add_variant(updated, "v2", VariantFields(price=5, currency="EUR"), "v-1", CTX)
    assert with_variant.write.data["data_quality_score"] == made.data_quality_score + 10
    moved = combined([change.write.counts, with_variant.write.counts])
    assert sum(n for path, n in moved.items() if path[0] == "score") == 0
    assert delete_product(updated, "v3", CTX).write.counts == {("products", "ACTIVE"): -1, ("score", bucket): -1}


def test_deltas_of_any_history_add_up_to_a_count_of_what_is_left() -> None:
    """Random creates, updates and deletes: the sum of every write's deltas is the recount."""
    rng = random.Random(16)
    live: dict[str, Product] = {}
    total: Counter[tuple[str, ...]] = Counter()
    for _ in range(500):
        pid = f"p{rng.randrange(30)}"
        before = live.get(pid)
        after = None if rng.random() < 0.3 else product(pid, rng.choice(["ACTIVE", "DRAFT"]), rng.randrange(101))
        total.update(product_deltas(before, after))
        if after is None:
            live.pop(pid, None)
        else:
            live[pid] = after
    recount = combined(product_deltas(None, p) for p in live.values())
    assert {k: v for k, v in total.items() if v} == recount


def test_shards_are_summed_from_their_nested_maps() -> None:
    shards = [
        {"products": {"ACTIVE": 2}, "score": {"9": 2}, "blocked": 1},
        {"products": {"ACTIVE": 1, "DRAFT": 1}, "issues": {"MISSING_SKU": {"WARNING": 3}}, "blocked": -1},
    ]
    assert combined(flatten(s) for s in shards) == {
        ("products", "ACTIVE"): 3,
        ("products", "DRAFT"): 1,
        ("score", "9"): 2,
        ("issues", "MISSING_SKU", "WARNING"): 3,
    }


def test_the_view_shows_every_status_bucket_type_and_severity() -> None:
    counters = {
        ("products", "ACTIVE"): 3,
        ("products", "DRAFT"): 1,
        ("score", "9"): 3,
        ("score", "4"): 1,
        ("issues", "MISSING_SKU", "WARNING"): 1,
        ("issues", "DUPLICATE_SKU", "ERROR"): 2,
        ("blocked",): 2,
    }
    since = NOW - timedelta(days=7)
    jobs = [("BULK_IMPORT", "COMPLETED"), ("BULK_IMPORT", "COMPLETED"), ("BULK_DELETE", "FAILED")]
    stats = catalog_stats("t", "o", counters, jobs, since, None, NOW)
    assert stats.products.model_dump() == {"total": 4, "by_status": {"ACTIVE": 3, "DRAFT": 1, "ARCHIVED": 0}}
    assert [(b.min, b.max, b.count) for b in stats.data_quality_score.buckets] == [
        (0, 9, 0),
        (10, 19, 0),
        (20, 29, 0),
        (30, 39, 0),
        (40, 49, 1),
        (50, 59, 0),
        (60, 69, 0),
        (70, 79, 0),
        (80, 89, 0),
        (90, 100, 3),
    ]
    assert [(i.code, i.severity, i.count) for i in stats.validation_issues.by_code] == [
        ("DUPLICATE_SKU", "ERROR", 2),
        ("MISSING_SKU", "WARNING", 1),
    ]
    assert stats.validation_issues.open == 3
    assert stats.validation_issues.by_severity == {"WARNING": 1, "ERROR": 2}
    assert stats.products_blocked_from_export == 2
    assert stats.bulk_jobs.total == 3
    assert stats.bulk_jobs.by_type["BULK_IMPORT"]["COMPLETED"] == 2
    assert stats.bulk_jobs.by_type["BULK_DELETE"] == {
        "PENDING": 0,
        "PROCESSING": 0,
        "COMPLETED": 0,
        "FAILED": 1,
        "CANCELLED": 0,
    }
    assert stats.bulk_jobs.by_type["BULK_UPDATE"]["PENDING"] == 0
