"""The PIM resources: products (with their variants), brands and categories, and the rules of
writing them. Pure: storage versions are opaque values handed back on write."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from shared.domain.attributes import AttributeDefinition, CatalogSchema, ProductTemplate
from shared.domain.audit import AuditEvent, ChangeContext, ResourceType, Verb
from shared.domain.counters import Deltas, product_deltas
from shared.domain.models import (
    AttributeName,
    AttributeValue,
    Code,
    LongText,
    Name,
    ReferenceId,
    StoredAttributeValue,
    Text,
    Title,
    reference_id,
)
from shared.domain.scoring import quality_score, variant_quality_score
from shared.domain.sizes import document_size, largest
from shared.domain.slugs import HttpsUrl, Slug
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, NotFoundError, invalid

MAX_VARIANTS = 100
# A product and its variants are one document. An update's audit event holds the changed fields
# before and after, so a product is kept under half a document: the event then fits too.
MAX_PRODUCT_BYTES = 500_000


class ProductStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"


def _iso_4217(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError("not an ISO 4217 currency code")
    return code


Currency = Annotated[str, AfterValidator(_iso_4217)]
# Prices travel as exact decimals: a JSON number is read through its shortest repr, stored and
# returned as a string, never as a float.
Price = Annotated[
    Decimal, Field(ge=0, max_digits=14, decimal_places=4), PlainSerializer(lambda d: str(d), return_type=str)
]

# A variant's options: which value of which attribute it is (`{"color": "Red", "size": "S"}`),
# keyed by attribute slug. No two variants of one product share the same options.
MAX_OPTIONS = 20
OPTION_KEY_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
OptionKey = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=OPTION_KEY_PATTERN)
]
OptionValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
OPTIONS_DOC = (
    'Attribute slug -> value, e.g. {"color": "Red", "size": "S"}. Two variants of one product '
    "may not have the same option values (compared ignoring case and spacing)."
)
OptionValues = Annotated[
    dict[OptionKey, OptionValue],
    Field(max_length=MAX_OPTIONS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_OPTIONS,
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": OPTION_KEY_PATTERN},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
            "description": OPTIONS_DOC,
            "examples": [{"color": "Red", "size": "S"}],
        }
    ),
]


# --- products ------------------------------------------------------------------------------
class ProductFields(BaseModel):
    """The writable fields of a product: what a create request or an import item carries."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: LongText | None = None
    sku: Code | None = None
    barcode: Code | None = None
    category: Text | None = None
    category_id: ReferenceId | None = None
    brand: Text | None = None
    brand_id: ReferenceId | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=200)
    template_id: ReferenceId | None = Field(None, description="The product template it follows (must exist).")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # "left out" is not a value a client could send


class ProductPatch(BaseModel):
    """The fields an update changes; fields left out stay as they are, null clears them."""

    model_config = ConfigDict(extra="forbid")

    # Left out means unchanged; null is refused (below), so the schema does not offer it.
    title: Title | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    description: LongText | None = None
    sku: Code | None = None
    barcode: Code | None = None
    category: Text | None = None
    category_id: ReferenceId | None = None
    brand: Text | None = None
    brand_id: ReferenceId | None = None
    status: ProductStatus | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    attributes: dict[AttributeName, AttributeValue] | None = Field(None, max_length=200)
    template_id: ReferenceId | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    @field_validator("title", "status")
    @classmethod
    def _cannot_be_cleared(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared")
        return value

    @field_validator("attributes")
    @classmethod
    def _null_clears_attributes(cls, value: Any) -> Any:
        return _cleared_map(value)


class VariantFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code | None = None
    barcode: Code | None = None
    price: Price | None = None
    currency: Currency | None = None
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=50)
    option_values: OptionValues = Field(default_factory=dict)
    cost_price: Price | None = Field(None, description="What the variant costs, in the variant's currency.")

    @model_validator(mode="after")
    def _price_needs_currency(self) -> VariantFields:
        if (self.price is not None or self.cost_price is not None) and self.currency is None:
            raise ValueError("a price needs its currency")
        return self


class VariantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code | None = None
    barcode: Code | None = None
    price: Price | None = None
    currency: Currency | None = None
    attributes: dict[AttributeName, AttributeValue] | None = Field(None, max_length=50)
    option_values: OptionValues | None = None
    cost_price: Price | None = None

    @field_validator("attributes", "option_values")
    @classmethod
    def _null_clears_attributes(cls, value: Any) -> Any:
        return _cleared_map(value)


def _cleared_map(value: Any) -> Any:
    """Null clears a patched map, as it clears any other field: the map becomes empty."""
    return {} if value is None else value


# The stored models below read records as they are: a record may predate today's input rules
# (which the *Fields and *Patch models apply), and refusing to read it would break every page
# and export it is on.
class Variant(VariantFields):
    model_config = ConfigDict(extra="ignore")

    attributes: dict[str, StoredAttributeValue] = Field(default_factory=dict)
    option_values: dict[str, str] = Field(default_factory=dict)
    id: str
    product_id: str
    created_at: datetime
    updated_at: datetime
    data_quality_score: int | None = Field(
        None, ge=0, le=100, description="0-100, the variant's own score, recomputed on every write of it."
    )


class Product(ProductFields):
    model_config = ConfigDict(extra="ignore")

    category_id: str | None = None
    brand_id: str | None = None
    attributes: dict[str, StoredAttributeValue] = Field(default_factory=dict)
    id: str
    tenant_id: str
    org_id: str
    variants: list[Variant] = Field(default_factory=list, max_length=MAX_VARIANTS)
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    job_id: str | None = Field(None, description="Bulk job that last wrote the product, if any.")
    data_quality_score: int | None = Field(None, ge=0, le=100, description="0-100, recomputed on every write.")
    template_id: str | None = Field(None, description="The product template it follows, if any.")
    completeness: int | None = Field(
        None,
        ge=0,
        le=100,
        description="With a template: the share (0-100) of its required attributes that have a value; "
        "recomputed on every write and when the template changes.",
    )


# --- bulk items: a product with its variants --------------------------------------------------
class ImportItem(ProductFields):
    """A bulk import item: a product and the variants created with it."""

    variants: list[VariantFields] = Field(default_factory=list, max_length=MAX_VARIANTS)


class VariantItemPatch(VariantPatch):
    """A change to one existing variant, named by its id, within a bulk update item."""

    id: str = Field(min_length=1, max_length=128, description="The id of one of the product's variants.")


class UpdateItem(ProductPatch):
    """A bulk update item (less its product `id`): the product's fields to change, and changes to
    some of its variants by id (variants not named stay as they are)."""

    variants: list[VariantItemPatch] = Field(default_factory=list, max_length=MAX_VARIANTS)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, exclude={"variants"})

    def variant_changes(self) -> list[tuple[str, dict[str, Any]]]:
        """(variant id, its changed fields) per variant named."""
        return [(v.id, v.model_dump(mode="json", exclude_unset=True, exclude={"id"})) for v in self.variants]


# --- brands and categories -----------------------------------------------------------------
class BrandFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = None
    description: LongText | None = None
    logo_url: HttpsUrl | None = None


class BrandPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)  # null is refused
    slug: Slug | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)  # null is refused
    description: LongText | None = None
    logo_url: HttpsUrl | None = None


class Brand(BrandFields):
    model_config = ConfigDict(extra="ignore")

    slug: str | None = None  # None only on a record from before slugs
    logo_url: str | None = None
    id: str
    tenant_id: str
    org_id: str
    created_at: datetime
    updated_at: datetime


class CategoryFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = None
    parent_id: ReferenceId | None = Field(None, description="The parent category; null for a top-level one.")
    description: LongText | None = None


class CategoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)  # null is refused
    slug: Slug | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)  # null is refused
    parent_id: ReferenceId | None = None
    description: LongText | None = None


class Category(CategoryFields):
    model_config = ConfigDict(extra="ignore")

    parent_id: str | None = Field(None, description="The parent category; null for a top-level one.")
    slug: str | None = None  # None only on a record from before slugs
    id: str
    tenant_id: str
    org_id: str
    created_at: datetime
    updated_at: datetime


def name_key(name: str, within: str = "") -> str:
    """The identity of a name for uniqueness: case- and space-insensitive, scoped by `within`."""
    return hashlib.sha256(f"{within}/{' '.join(name.split()).casefold()}".encode()).hexdigest()


def new_id() -> str:
    return str(uuid.uuid4())


# --- writes --------------------------------------------------------------------------------
class Collection(StrEnum):
    """The tenant's collections a write may touch."""

    PRODUCTS = "products"
    BRANDS = "brands"
    CATEGORIES = "categories"
    BRAND_NAMES = "brand_names"
    CATEGORY_NAMES = "category_names"
    BRAND_SLUGS = "brand_slugs"
    CATEGORY_SLUGS = "category_slugs"
    ATTRIBUTES = "attributes"
    ATTRIBUTE_SLUGS = "attribute_slugs"
    TEMPLATES = "product_templates"
    TEMPLATE_SLUGS = "product_template_slugs"


@dataclass(frozen=True)
class Write:
    """One document write, applied atomically with the rest of its unit of work."""

    kind: Literal["create", "update", "delete"]
    collection: Collection
    doc_id: str
    data: dict[str, Any] = field(default_factory=dict)
    version: Any = None  # storage's opaque "last seen" token: the write fails if the document moved
    size: int | None = None  # the document's stored size (sizes.document_size), when measured already
    counts: Deltas = field(default_factory=dict)  # what it moves of the catalog counters (counters.py)


def variant_skus(product: Product) -> list[str]:
    """The variants' SKUs, kept on the product document so a query can find a SKU's holders."""
    return sorted({v.sku for v in product.variants if v.sku})


def stored_product(product: Product) -> dict[str, Any]:
    return {**stored(product), "variant_skus": variant_skus(product)}


def stored(model: BaseModel) -> dict[str, Any]:
    """A model as a Firestore document (datetimes stay datetimes, decimals become strings)."""
    return model.model_dump(mode="python")


def stored_changes(changes: dict[str, Any], model: BaseModel) -> dict[str, Any]:
    """The changed fields of `model` as stored values."""
    dumped = stored(model)
    return {k: dumped[k] for k in changes}


def product_size_problem(
    document: dict[str, Any], fields: Iterable[str], named: dict[str, Any] | None = None
) -> FieldProblem | None:
    """Why the product stored as `document` is too large, naming the largest of the `fields` a
    change set (measured in `named`, the change itself, when given); None when it fits."""
    return _size_problem(document_size(document), document, fields, named)


def _size_problem(
    size: int, document: dict[str, Any], fields: Iterable[str], named: dict[str, Any] | None = None
) -> FieldProblem | None:
    if size <= MAX_PRODUCT_BYTES:
        return None
    field = largest(document if named is None else named, fields)
    return FieldProblem(
        field,
        f"the product would take about {size:,} bytes stored, its variants included; at most {MAX_PRODUCT_BYTES:,}",
    )


def _check_size(document: dict[str, Any], fields: Iterable[str], named: dict[str, Any] | None = None) -> int:
    """The document's stored size; InvalidArgumentError if it is too large."""
    size = document_size(document)
    if problem := _size_problem(size, document, fields, named):
        raise InvalidArgumentError("the product is too large", [problem])
    return size


# --- product changes, shared by single requests and bulk batches ---------------------------
@dataclass(frozen=True)
class References:
    """The brand and category ids known to exist, for checking a product's references."""

    brands: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    templates: frozenset[str] = frozenset()

    def problems(self, fields: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        if fields.get("template_id") and fields["template_id"] not in self.templates:
            found.append(("template_id", "no such product template"))
        if fields.get("brand_id") and fields["brand_id"] not in self.brands:
            found.append(("brand_id", "no such brand"))
        if fields.get("category_id") and fields["category_id"] not in self.categories:
            found.append(("category_id", "no such category"))
        return found


def referenced_ids(items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The brand and category ids a list of product bodies refers to, as stored (anything that is
    not an id is left out: the item's validation refuses it, and it is no document to read)."""
    return sorted(_ids(items, "brand_id")), sorted(_ids(items, "category_id"))


def _ids(items: list[dict[str, Any]], field: str) -> set[str]:
    found = set()
    for item in items:
        value = item.get(field)
        if isinstance(value, str):
            try:
                found.add(reference_id(value.strip()))
            except ValueError:
                continue
    return found


@dataclass(frozen=True)
class Change:
    """A write and the audit event that goes with it."""

    write: Write
    event: AuditEvent
    product: Product | None = None  # the product a create makes, as a model (spares re-reading it)


def create_product(
    fields: ProductFields,
    product_id: str,
    ctx: ChangeContext,
    event_id: str | None = None,
    schema: CatalogSchema | None = None,
) -> Change:
    """The product's create; an ImportItem's variants are created with it (InvalidArgumentError
    if two of them have the same options)."""
    new_variants = [
        new_variant(v, import_variant_id(product_id, i), product_id, ctx) for i, v in enumerate(variants_of(fields))
    ]
    if clashes := option_clashes(new_variants):
        raise InvalidArgumentError(
            "two variants of a product cannot have the same option values",
            [_clash_problem(new_variants, earlier, later) for earlier, later in clashes],
        )
    product = Product(
        **fields.model_dump(exclude={"variants"}),
        variants=new_variants,
        id=product_id,
        tenant_id=ctx.tenant_id,
        org_id=ctx.org_id,
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.actor_email,
        job_id=ctx.job_id,
    )
    product.completeness = (schema or CatalogSchema()).completeness(product.template_id, product.attributes)
    product.data_quality_score = quality_score(product)
    document = stored_product(product)
    size = _check_size(document, fields.model_fields_set)
    event = ctx.event(
        ResourceType.PRODUCT, Verb.CREATED, product_id, None, product.model_dump(mode="json"), event_id=event_id
    )
    write = Write("create", Collection.PRODUCTS, product_id, document, size=size, counts=product_deltas(None, product))
    return Change(write, event, product)


def update_product(
    current: Product,
    version: Any,
    changes: dict[str, Any],
    ctx: ChangeContext,
    event_id: str | None = None,
    schema: CatalogSchema | None = None,
) -> tuple[Product, Change]:
    """`schema` holds the product's template (after the change), so its completeness is
    recomputed; without one the completeness stays as stored."""
    updated = Product.model_validate({**current.model_dump(), **changes, "updated_at": ctx.now, "job_id": ctx.job_id})
    if schema is not None:
        updated.completeness = schema.completeness(updated.template_id, updated.attributes)
    updated.data_quality_score = quality_score(updated)
    _check_size(stored_product(updated), changes)
    event = ctx.event(
        ResourceType.PRODUCT,
        Verb.UPDATED,
        current.id,
        current.model_dump(mode="json"),
        updated.model_dump(mode="json"),
        event_id=event_id,
    )
    derived = {"updated_at": None, "job_id": None, "data_quality_score": None, "completeness": None}
    data = stored_changes({**changes, **derived}, updated)
    if "variants" in changes:
        data["variant_skus"] = variant_skus(updated)
    counts = product_deltas(current, updated)
    return updated, Change(Write("update", Collection.PRODUCTS, current.id, data, version, counts=counts), event)


def delete_product(current: Product, version: Any, ctx: ChangeContext, event_id: str | None = None) -> Change:
    """The product goes with its variants: its event records them among the values before."""
    event = ctx.event(
        ResourceType.PRODUCT, Verb.DELETED, current.id, current.model_dump(mode="json"), None, event_id=event_id
    )
    counts = product_deltas(current, None)
    return Change(Write("delete", Collection.PRODUCTS, current.id, version=version, counts=counts), event)


# --- variants: a product's list, written with the product ----------------------------------
def add_variant(
    product: Product, version: Any, fields: VariantFields, variant_id: str, ctx: ChangeContext
) -> tuple[Variant, Change]:
    if len(product.variants) >= MAX_VARIANTS:
        raise ConflictError(f"a product has at most {MAX_VARIANTS} variants")
    variant = new_variant(fields, variant_id, product.id, ctx)
    check_options([*product.variants, variant], variant)
    event = ctx.event(
        ResourceType.VARIANT, Verb.CREATED, variant.id, None, variant.model_dump(mode="json"), parent_id=product.id
    )
    change = _variants_write(product, version, [*product.variants, variant], ctx, event)
    return variant, _checked(change, product, fields.model_fields_set, stored(variant))


def update_variant(
    product: Product, version: Any, variant_id: str, changes: dict[str, Any], ctx: ChangeContext
) -> tuple[Variant, Change | None]:
    current = find_variant(product, variant_id)
    try:
        updated = Variant.model_validate({**current.model_dump(), **changes, "updated_at": ctx.now})
    except ValidationError as exc:  # the change leaves the variant breaking a whole-variant rule
        raise invalid("invalid variant", exc) from exc
    updated.data_quality_score = variant_quality_score(updated)
    check_options([updated if v.id == variant_id else v for v in product.variants], updated)
    event = ctx.event(
        ResourceType.VARIANT,
        Verb.UPDATED,
        variant_id,
        current.model_dump(mode="json"),
        updated.model_dump(mode="json"),
        parent_id=product.id,
    )
    if not event.changes:
        return current, None
    variants = [updated if v.id == variant_id else v for v in product.variants]
    change = _variants_write(product, version, variants, ctx, event)
    return updated, _checked(change, product, changes, stored(updated))


def remove_variant(product: Product, version: Any, variant_id: str, ctx: ChangeContext) -> Change:
    current = find_variant(product, variant_id)
    event = ctx.event(
        ResourceType.VARIANT, Verb.DELETED, variant_id, current.model_dump(mode="json"), None, parent_id=product.id
    )
    return _variants_write(product, version, [v for v in product.variants if v.id != variant_id], ctx, event)


def variants_of(fields: ProductFields) -> list[VariantFields]:
    return fields.variants if isinstance(fields, ImportItem) else []


def import_variant_id(product_id: str, position: int) -> str:
    """Deterministic, like an imported product's id: a redelivered batch writes the same variants."""
    return str(uuid.uuid5(uuid.UUID(product_id), f"variant-{position}"))


def patched_variants(
    variants: list[Variant], patches: list[tuple[str, dict[str, Any]]], now: datetime
) -> list[Variant]:
    """The product's variants with each named one changed (InvalidArgumentError naming the
    `variants[i]` of the patch that names no variant, breaks a rule, or repeats options)."""
    by_id = {v.id: v for v in variants}
    changed: dict[str, int] = {}
    for position, (variant_id, changes) in enumerate(patches):
        current = by_id.get(variant_id)
        if current is None:
            raise InvalidArgumentError("no such variant", [FieldProblem(f"variants[{position}].id", "no such variant")])
        try:
            updated = Variant.model_validate({**current.model_dump(), **changes, "updated_at": now})
        except ValidationError as exc:
            problems = [
                FieldProblem(
                    ".".join([f"variants[{position}]", *map(str, e["loc"])]), e["msg"].removeprefix("Value error, ")
                )
                for e in exc.errors()
            ]
            raise InvalidArgumentError("invalid variant", problems) from exc
        updated.data_quality_score = variant_quality_score(updated)
        by_id[variant_id] = updated
        changed[variant_id] = position
    result = [by_id[v.id] for v in variants]
    for earlier, later in option_clashes(result):
        named = changed.get(later.id, changed.get(earlier.id))
        if named is not None:
            raise InvalidArgumentError(
                "two variants of a product cannot have the same option values",
                [FieldProblem(f"variants[{named}].option_values", f"variants {earlier.id} and {later.id} alike")],
            )
    return result


def _clash_problem(variants: list[Variant], earlier: Variant, later: Variant) -> FieldProblem:
    first, second = variants.index(earlier), variants.index(later)
    return FieldProblem(f"variants[{second}].option_values", f"the same as variants[{first}]'s")


def new_variant(fields: VariantFields, variant_id: str, product_id: str, ctx: ChangeContext) -> Variant:
    variant = Variant(
        **fields.model_dump(), id=variant_id, product_id=product_id, created_at=ctx.now, updated_at=ctx.now
    )
    variant.data_quality_score = variant_quality_score(variant)
    return variant


def options_key(option_values: dict[str, str]) -> tuple[tuple[str, str], ...] | None:
    """What makes two variants' options the same: the keys, and the values ignoring case and
    spacing. None for a variant without options (any number of those may coexist)."""
    if not option_values:
        return None
    return tuple(sorted((k, " ".join(v.split()).casefold()) for k, v in option_values.items()))


def option_clashes(variants: list[Variant]) -> list[tuple[Variant, Variant]]:
    """Pairs (earlier, later) of variants whose options are the same."""
    seen: dict[tuple[tuple[str, str], ...], Variant] = {}
    clashes = []
    for variant in variants:
        key = options_key(variant.option_values)
        if key is None:
            continue
        if key in seen:
            clashes.append((seen[key], variant))
        else:
            seen[key] = variant
    return clashes


def check_options(variants: list[Variant], changed: Variant) -> None:
    """InvalidArgumentError naming the variant whose options `changed` would repeat."""
    for earlier, later in option_clashes(variants):
        if changed.id in (earlier.id, later.id):
            other = earlier if later.id == changed.id else later
            raise InvalidArgumentError(
                "two variants of a product cannot have the same option values",
                [FieldProblem("option_values", f"the same as variant {other.id}'s: {other.option_values}")],
            )


def find_variant(product: Product, variant_id: str) -> Variant:
    for variant in product.variants:
        if variant.id == variant_id:
            return variant
    raise NotFoundError("variant not found")


def _checked(change: Change, product: Product, fields: Iterable[str], variant: dict[str, Any]) -> Change:
    """A variant change, once the product it leaves fits a document (else the variant's largest
    field given is named)."""
    _check_size({**stored_product(product), **change.write.data}, fields, variant)
    return change


def _variants_write(
    product: Product, version: Any, variants: list[Variant], ctx: ChangeContext, event: AuditEvent
) -> Change:
    after = product.model_copy(update={"variants": variants})
    after.data_quality_score = quality_score(after)
    data = {
        "variants": [stored(v) for v in variants],
        "variant_skus": variant_skus(after),
        "data_quality_score": after.data_quality_score,
        "updated_at": ctx.now,
    }
    counts = product_deltas(product, after)
    return Change(Write("update", Collection.PRODUCTS, product.id, data, version, counts=counts), event)


# --- brands and categories: named resources, unique by name (categories: within a parent) ---
@dataclass(frozen=True)
class Taxon:
    """What differs between brands, categories, attribute definitions and product templates;
    everything else they share."""

    noun: str
    collection: Collection
    names: Collection
    model: type[Brand] | type[Category] | type[AttributeDefinition] | type[ProductTemplate]
    resource_type: ResourceType
    # A separate slug index, for resources unique by name that also carry a slug (brands,
    # categories); None where the slug is the key itself (attributes, templates).
    slugs: Collection | None = None
    key_field: str = "name"  # what is unique: the name, or (attributes and templates) the slug

    def key(self, data: dict[str, Any]) -> str:
        return name_key(data[self.key_field], data.get("parent_id") or "")


BRANDS = Taxon("brand", Collection.BRANDS, Collection.BRAND_NAMES, Brand, ResourceType.BRAND, Collection.BRAND_SLUGS)
CATEGORIES = Taxon(
    "category",
    Collection.CATEGORIES,
    Collection.CATEGORY_NAMES,
    Category,
    ResourceType.CATEGORY,
    Collection.CATEGORY_SLUGS,
)
ATTRIBUTES = Taxon(
    "attribute",
    Collection.ATTRIBUTES,
    Collection.ATTRIBUTE_SLUGS,
    AttributeDefinition,
    ResourceType.ATTRIBUTE,
    key_field="slug",
)
TEMPLATES = Taxon(
    "product template",
    Collection.TEMPLATES,
    Collection.TEMPLATE_SLUGS,
    ProductTemplate,
    ResourceType.PRODUCT_TEMPLATE,
    key_field="slug",
)


def create_named(
    taxon: Taxon, fields: BaseModel, doc_id: str, ctx: ChangeContext
) -> tuple[Any, list[Write], AuditEvent]:
    resource = taxon.model.model_validate(
        {
            **fields.model_dump(),
            "id": doc_id,
            "tenant_id": ctx.tenant_id,
            "org_id": ctx.org_id,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
    )
    data = stored(resource)
    writes = [
        Write("create", taxon.collection, doc_id, data),
        Write("create", taxon.names, taxon.key(data), {"id": doc_id}),  # fails if the name is taken
    ]
    if taxon.slugs and resource.slug:
        writes.append(Write("create", taxon.slugs, resource.slug, {"id": doc_id}))  # fails if the slug is taken
    event = ctx.event(taxon.resource_type, Verb.CREATED, doc_id, None, resource.model_dump(mode="json"))
    return resource, writes, event


def update_named(
    taxon: Taxon, current: Any, version: Any, changes: dict[str, Any], ctx: ChangeContext
) -> tuple[Any, list[Write], AuditEvent | None]:
    updated = taxon.model.model_validate({**current.model_dump(), **changes, "updated_at": ctx.now})
    event = ctx.event(
        taxon.resource_type, Verb.UPDATED, current.id, current.model_dump(mode="json"), updated.model_dump(mode="json")
    )
    if not event.changes:
        return current, [], None
    writes = [
        Write("update", taxon.collection, current.id, stored_changes({**changes, "updated_at": 0}, updated), version)
    ]
    old_key, new_key = taxon.key(current.model_dump()), taxon.key(updated.model_dump())
    if old_key != new_key:
        writes += [Write("delete", taxon.names, old_key), Write("create", taxon.names, new_key, {"id": current.id})]
    # The slug index entry moves with the slug, in the same commit.
    if taxon.slugs and updated.slug and current.slug != updated.slug:
        if current.slug:
            writes.append(Write("delete", taxon.slugs, current.slug))
        writes.append(Write("create", taxon.slugs, updated.slug, {"id": current.id}))
    return updated, writes, event


def delete_named(taxon: Taxon, current: Any, version: Any, ctx: ChangeContext) -> tuple[list[Write], AuditEvent]:
    writes = [
        Write("delete", taxon.collection, current.id, version=version),
        Write("delete", taxon.names, taxon.key(current.model_dump())),
    ]
    if taxon.slugs and current.slug:
        writes.append(Write("delete", taxon.slugs, current.slug))
    event = ctx.event(taxon.resource_type, Verb.DELETED, current.id, current.model_dump(mode="json"), None)
    return writes, event
