"""Data quality: the score of a product, the rules that find problems in it, and how a fresh
evaluation turns into validation-issue records (one per product, rule and variant).

Rules are small pure functions; adding one means writing a function and listing it in RULES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from shared.domain.catalog import Product
from shared.domain.scoring import LOW_SCORE_THRESHOLD, is_valid_gtin, quality_score


class Severity(StrEnum):
    WARNING = "WARNING"  # degrades catalog quality
    ERROR = "ERROR"  # blocks publishing and export


class Finding(BaseModel):
    """One problem a rule found in one product (or one of its variants)."""

    code: str
    severity: Severity
    field: str
    message: str
    variant_id: str | None = None
    value: str | None = Field(None, description="The offending value where it matters (a duplicated SKU).")


class ValidationIssue(Finding):
    """A finding as recorded: one record per (product, code, variant), resolved when it stops holding."""

    id: str
    tenant_id: str
    org_id: str
    product_id: str
    resolved: bool = False
    resolved_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


def issue_id(product_id: str, code: str, variant_id: str | None = None) -> str:
    return f"{product_id}.{code}" + (f".{variant_id}" if variant_id else "")


# --- rules on one product ------------------------------------------------------------------
Rule = Callable[[Product], Iterable[Finding]]


def missing_description(p: Product) -> Iterable[Finding]:
    if not (p.description or "").strip():
        yield Finding(
            code="MISSING_DESCRIPTION",
            severity=Severity.WARNING,
            field="description",
            message="the product has no description",
        )


def missing_sku(p: Product) -> Iterable[Finding]:
    if not p.sku:
        yield Finding(code="MISSING_SKU", severity=Severity.WARNING, field="sku", message="the product has no SKU")


def missing_category(p: Product) -> Iterable[Finding]:
    if not (p.category or p.category_id):
        yield Finding(
            code="MISSING_CATEGORY",
            severity=Severity.WARNING,
            field="category",
            message="the product is in no category",
        )


def missing_brand(p: Product) -> Iterable[Finding]:
    if not (p.brand or p.brand_id):
        yield Finding(
            code="MISSING_BRAND", severity=Severity.WARNING, field="brand", message="the product has no brand"
        )


def invalid_barcode(p: Product) -> Iterable[Finding]:
    if p.barcode and not is_valid_gtin(p.barcode):
        yield Finding(
            code="INVALID_BARCODE",
            severity=Severity.ERROR,
            field="barcode",
            value=p.barcode,
            message=f"{p.barcode!r} is not a valid GTIN-8/12/13/14 (length and check digit)",
        )
    for v in p.variants:
        if v.barcode and not is_valid_gtin(v.barcode):
            yield Finding(
                code="INVALID_BARCODE",
                severity=Severity.ERROR,
                field="variants.barcode",
                variant_id=v.id,
                value=v.barcode,
                message=f"variant barcode {v.barcode!r} is not a valid GTIN-8/12/13/14",
            )


def low_quality_score(p: Product) -> Iterable[Finding]:
    score = quality_score(p)
    if score < LOW_SCORE_THRESHOLD:
        yield Finding(
            code="LOW_QUALITY_SCORE",
            severity=Severity.WARNING,
            field="data_quality_score",
            message=f"data quality score {score} is below {LOW_SCORE_THRESHOLD}",
        )


RULES: list[Rule] = [
    missing_description,
    missing_sku,
    missing_category,
    missing_brand,
    invalid_barcode,
    low_quality_score,
]


# --- the rule across products: a SKU held by more than one live product or variant ----------
Holder = tuple[str, str | None]  # (product id, variant id or None for the product itself)


def held_skus(product: Product) -> list[tuple[str, str | None]]:
    """(sku, variant id) for every SKU the product or its variants carry."""
    pairs = [(product.sku, None)] if product.sku else []
    return pairs + [(v.sku, v.id) for v in product.variants if v.sku]


def duplicate_skus(product: Product, holders: dict[str, set[Holder]]) -> Iterable[Finding]:
    for sku, variant_id in held_skus(product):
        others = holders.get(sku, set()) - {(product.id, variant_id)}
        if others:
            yield Finding(
                code="DUPLICATE_SKU",
                severity=Severity.ERROR,
                field="variants.sku" if variant_id else "sku",
                variant_id=variant_id,
                value=sku,
                message=f"SKU {sku!r} is also used by {len(others)} other product(s) or variant(s)",
            )


def evaluate(product: Product, holders: dict[str, set[Holder]]) -> list[Finding]:
    """Every finding about the product now; `holders` maps each of its SKUs to all live holders."""
    found = [f for rule in RULES for f in rule(product)]
    return found + list(duplicate_skus(product, holders))


# --- from findings to issue records --------------------------------------------------------
@dataclass(frozen=True)
class IssueChange:
    """An issue record to write: opened (or reopened), updated, or resolved."""

    issue_id: str
    data: dict[str, Any]


def reconcile(
    product_ids: Iterable[str],
    products: dict[str, Product],
    holders: dict[str, set[Holder]],
    open_issues: list[ValidationIssue],
    tenant_id: str,
    org_id: str,
    now: datetime,
) -> list[IssueChange]:
    """The writes that make the records match a fresh evaluation of the products.

    A product missing from `products` was deleted: all its open issues resolve.
    """
    open_by_id = {i.id: i for i in open_issues}
    changes: list[IssueChange] = []
    seen: set[str] = set()
    for pid in product_ids:
        product = products.get(pid)
        for finding in evaluate(product, holders) if product else []:
            iid = issue_id(pid, finding.code, finding.variant_id)
            if iid in seen:
                continue
            seen.add(iid)
            current = open_by_id.get(iid)
            fields = finding.model_dump(mode="json")
            if current is None:
                changes.append(
                    IssueChange(
                        iid,
                        {
                            **fields,
                            "id": iid,
                            "tenant_id": tenant_id,
                            "org_id": org_id,
                            "product_id": pid,
                            "resolved": False,
                            "resolved_at": None,
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
                )
            elif current.model_dump(mode="json", include=set(fields)) != fields:
                changes.append(IssueChange(iid, {**current.model_dump(), **fields, "updated_at": now}))
    wanted = set(product_ids)
    for issue in open_issues:
        if issue.product_id in wanted and issue.id not in seen:
            changes.append(
                IssueChange(issue.id, {**issue.model_dump(), "resolved": True, "resolved_at": now, "updated_at": now})
            )
    return changes


# --- what an evaluation leaves behind, for the next one ------------------------------------
class QualitySummary(BaseModel):
    """Per product: the SKUs registered for it and its open issues, as last evaluated."""

    product_id: str
    skus: dict[str, str] = Field(default_factory=dict, description="sku -> holder key")
    open: list[ValidationIssue] = Field(default_factory=list)
    evaluated_at: datetime
    # Storage's opaque version of the summary as read (None when not read): writing the next one
    # expects it, so the catalog counters move once per change. Never stored.
    version: Any = Field(None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blocks_export(self) -> bool:
        """Stored with the summary, so an export can stream just the blocked products."""
        return any(issue.severity is Severity.ERROR for issue in self.open)


def holder_key(product_id: str, variant_id: str | None) -> str:
    return f"{product_id}/{variant_id}" if variant_id else product_id


def parse_holder(key: str) -> Holder:
    product_id, _, variant_id = key.partition("/")
    return product_id, variant_id or None


def registered_skus(product: Product | None) -> dict[str, str]:
    """sku -> holder key for every SKU the product (or a variant) holds now."""
    return {sku: holder_key(product.id, vid) for sku, vid in held_skus(product)} if product else {}


def registry_changes(before: dict[str, str], now: dict[str, str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Holders to add to and remove from the SKU index, going from `before` to `now`."""
    added: dict[str, set[str]] = {}
    removed: dict[str, set[str]] = {}
    for sku, key in now.items():
        if before.get(sku) != key:
            added.setdefault(sku, set()).add(key)
    for sku, key in before.items():
        if now.get(sku) != key:
            removed.setdefault(sku, set()).add(key)
    return added, removed


def verified_holders(index: dict[str, set[str]], products: dict[str, Product]) -> dict[str, set[Holder]]:
    """The index's holders that really hold the SKU now (an index entry can be stale)."""
    live: dict[str, set[Holder]] = {}
    for sku, keys in index.items():
        live[sku] = {
            parse_holder(k)
            for k in keys
            if (p := products.get(parse_holder(k)[0])) is not None and registered_skus(p).get(sku) == k
        }
    return live


@dataclass(frozen=True)
class FirstRecords:
    """What the first evaluation of a product just created leaves, written with the product in
    one commit: its issue records and summary (the rules on one product; a duplicate SKU needs
    the index, so it is judged once the product is registered), and the SKUs to register."""

    product: Product
    changes: list[IssueChange]
    summary: QualitySummary

    @property
    def writes(self) -> int:
        return len(self.changes) + 1 + len(self.summary.skus)


def first_records(product: Product, tenant_id: str, org_id: str, now: datetime) -> FirstRecords:
    """The records an evaluation of a new product finds before any other product is considered:
    the same as evaluate() gives it while no other product holds its SKUs."""
    changes = reconcile([product.id], {product.id: product}, {}, [], tenant_id, org_id, now)
    summary = QualitySummary(
        product_id=product.id, skus=registered_skus(product), open=open_after([], changes), evaluated_at=now
    )
    return FirstRecords(product, changes, summary)


def open_after(previous: list[ValidationIssue], changes: list[IssueChange]) -> list[ValidationIssue]:
    """A product's open issues once the changes are written."""
    current = {i.id: i for i in previous}
    for change in changes:
        issue = ValidationIssue.model_validate(change.data)
        if issue.resolved:
            current.pop(issue.id, None)
        else:
            current[issue.id] = issue
    return sorted(current.values(), key=lambda i: i.id)
