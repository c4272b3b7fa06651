"""Dry runs: a bulk job judged in full (parsing, item rules, references, ids, duplicate SKUs in the
payload and against the catalog) without writing a product, an audit event or an issue.

Each batch plans as a real one would, then keeps, instead of its writes, what they would have
done: its counts, the validation issues of the products it would write (all but DUPLICATE_SKU,
which depends on the whole payload and the catalog) and the SKUs those products would hold. The
batch that finishes the job adds the batches up and counts the duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from shared.domain.bulk import BatchInputs, BatchPlan
from shared.domain.catalog import Product
from shared.domain.models import DryRunReport
from shared.domain.quality import RULES, SCHEMA_RULES, parse_holder, registered_skus

DUPLICATE_SKU = "DUPLICATE_SKU"


class DryRunBatch(BaseModel):
    """One batch's share of a dry run's report, kept until the job finishes."""

    report: DryRunReport
    skus: dict[str, list[str]] = Field(default_factory=dict, description="SKU -> holder keys of written products.")
    touched: list[str] = Field(default_factory=list, description="Products it would write or delete.")


def judge_batch(plan: BatchPlan, inputs: BatchInputs) -> DryRunBatch:
    """What the batch's writes would have done."""
    kinds = Counter(w.kind for w in plan.writes)
    written: list[Product] = []
    for w, event in zip(plan.writes, plan.events, strict=True):
        if w.kind == "create":
            written.append(Product.model_validate(w.data))
        elif w.kind == "update":  # the product as stored, with the event's values after
            current = inputs.products[w.doc_id][0].model_dump(mode="json")
            written.append(Product.model_validate({**current, **{k: c.after for k, c in event.changes.items()}}))
    issues = Counter(f.code for p in written for rule in RULES for f in rule(p))
    issues.update(f.code for p in written for schema_rule in SCHEMA_RULES for f in schema_rule(p, inputs.schema))
    skus: dict[str, list[str]] = {}
    for product in written:
        for sku, key in registered_skus(product).items():
            skus.setdefault(sku, []).append(key)
    return DryRunBatch(
        report=DryRunReport(
            creates=kinds["create"], updates=kinds["update"], deletes=kinds["delete"], issues=dict(issues)
        ),
        skus=skus,
        touched=sorted(w.doc_id for w in plan.writes),
    )


def payload_holders(batches: Iterable[DryRunBatch]) -> tuple[dict[str, set[str]], set[str]]:
    """Every SKU the job's written products would hold, with their holders; and every product the
    job would write or delete (their catalog versions no longer count)."""
    holders: dict[str, set[str]] = {}
    touched: set[str] = set()
    for batch in batches:
        for sku, keys in batch.skus.items():
            holders.setdefault(sku, set()).update(keys)
        touched.update(batch.touched)
    return holders, touched


def combine(batches: list[DryRunBatch], catalog_holders: dict[str, set[str]]) -> DryRunReport:
    """The job's report: the batches' counts, plus a DUPLICATE_SKU for each written product (or
    variant) whose SKU another one holds, in the payload or, live and untouched, in the catalog."""
    holders, _ = payload_holders(batches)
    issues: Counter[str] = Counter()
    for b in batches:
        issues.update(b.report.issues)
    for sku, keys in holders.items():
        if len(keys) + len(catalog_holders.get(sku, set()) - keys) > 1:
            issues[DUPLICATE_SKU] += len(keys)
    return DryRunReport(
        creates=sum(b.report.creates for b in batches),
        updates=sum(b.report.updates for b in batches),
        deletes=sum(b.report.deletes for b in batches),
        issues=dict(sorted(issues.items())),
    )


def holder_products(index: dict[str, set[str]], touched: set[str]) -> set[str]:
    """The catalog products the SKU index names that the job leaves as they are."""
    return {parse_holder(k)[0] for keys in index.values() for k in keys} - touched
