"""The data-quality score of a product, 0 to 100, from a documented weighting of its fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the catalog computes scores on write; no import cycle at run time
    from shared.domain.catalog import Product, Variant

LOW_SCORE_THRESHOLD = 60
DESCRIPTION_FULL_LENGTH = 50

# Points per field, 100 in all: what a merchandiser needs for a product to sell well.
SCORE_WEIGHTS = {
    "title": 15,  # present; the full 15 from 10 characters on, 5 below
    "description": 25,  # 25 from 50 characters on, 10 below
    "sku": 10,
    "barcode": 15,  # a valid GTIN only
    "category": 10,  # category or category_id
    "brand": 10,  # brand or brand_id
    "attributes": 5,  # at least one
    "price": 10,  # at least one variant with a price
}


def is_valid_gtin(code: str) -> bool:
    """GTIN-8/12/13/14 by length and check digit: from the right, the digits before the check
    digit weigh 3, 1, 3, ...; the check digit brings the sum to a multiple of 10. (The same
    answers as python-stdnum's ean.is_valid, a tenth of its time: it runs on every barcode at
    every write and evaluation.)"""
    if len(code) not in (8, 12, 13, 14) or not code.isascii() or not code.isdigit():
        return False
    digits = [ord(c) - 48 for c in code]
    total = 3 * sum(digits[-2::-2]) + sum(digits[-3::-2])
    return (10 - total % 10) % 10 == digits[-1]


def quality_score(product: Product) -> int:
    w = SCORE_WEIGHTS
    score = 0
    title = product.title.strip()
    score += w["title"] if len(title) >= 10 else (5 if title else 0)
    description = (product.description or "").strip()
    score += w["description"] if len(description) >= DESCRIPTION_FULL_LENGTH else (10 if description else 0)
    score += w["sku"] if product.sku else 0
    score += w["barcode"] if product.barcode and is_valid_gtin(product.barcode) else 0
    score += w["category"] if product.category or product.category_id else 0
    score += w["brand"] if product.brand or product.brand_id else 0
    score += w["attributes"] if product.attributes else 0
    score += w["price"] if any(v.price is not None for v in product.variants) else 0
    return with_completeness(score, product.completeness)


# A product with a template: its field score and its completeness blend, so a product missing
# required attributes scores lower however rich its other fields are.
COMPLETENESS_SHARE = 0.25


def with_completeness(score: int, completeness: int | None) -> int:
    """`score` (0-100) blended with `completeness` (0-100, None without a template):
    round(0.75 * score + 0.25 * completeness)."""
    if completeness is None:
        return score
    return round((1 - COMPLETENESS_SHARE) * score + COMPLETENESS_SHARE * completeness)


# A variant's own score, 100 in all: what makes the concrete thing a customer buys sellable and
# tellable apart from its siblings.
VARIANT_SCORE_WEIGHTS = {
    "sku": 20,
    "barcode": 20,  # a valid GTIN only
    "price": 20,  # a price (with its currency, which a price requires)
    "option_values": 20,  # at least one option (color=Red)
    "cost_price": 10,
    "attributes": 10,  # at least one
}


def variant_quality_score(variant: Variant) -> int:
    w = VARIANT_SCORE_WEIGHTS
    score = w["sku"] if variant.sku else 0
    score += w["barcode"] if variant.barcode and is_valid_gtin(variant.barcode) else 0
    score += w["price"] if variant.price is not None else 0
    score += w["option_values"] if variant.option_values else 0
    score += w["cost_price"] if variant.cost_price is not None else 0
    score += w["attributes"] if variant.attributes else 0
    return score
