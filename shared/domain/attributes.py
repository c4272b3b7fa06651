"""Attribute definitions and product templates: what a product's `attributes` values must be,
and which of them a kind of product needs.

A product's `attributes` map is keyed by attribute slug. Where a definition exists for a key, the
value must fit it; keys without a definition stay free-form. A template groups definitions and
marks some required; a product with a template has a `completeness`, the share of its required
attributes that have a value. Pure: the catalog and the quality rules take a `CatalogSchema`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.domain.models import LongText, Name
from shared.errors import FieldProblem

MAX_OPTIONS = 200
MAX_GROUPS = 50
MAX_GROUP_ATTRIBUTES = 200
# MULTI_SELECT values are flat text (attributes hold no lists): the chosen options joined by this.
MULTI_SELECT_SEPARATOR = "|"

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"),
]
Option = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^|]*[^|\s][^|]*$")
]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Bound = Annotated[float, Field(allow_inf_nan=False)]
Options = Annotated[list[Option], Field(min_length=1, max_length=MAX_OPTIONS)]


class AttributeType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    DATE = "DATE"
    URL = "URL"

    @property
    def has_options(self) -> bool:
        return self in (AttributeType.SELECT, AttributeType.MULTI_SELECT)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def definition_problems(data: dict[str, Any]) -> list[str]:
    """Why a definition (as a whole) is not usable: options only for the select types, and
    required there; unit and bounds only for NUMBER, min not above max."""
    kind = AttributeType(data["type"])
    options = data.get("options")
    found = []
    if kind.has_options:
        if not options:
            found.append(f"a {kind.value} attribute needs `options` (at least one)")
        elif len({o.casefold() for o in options}) != len(options):
            found.append("`options` must be distinct (ignoring case)")
    elif options is not None:
        found.append(f"`options` are for SELECT and MULTI_SELECT attributes, not {kind.value}")
    if kind is not AttributeType.NUMBER:
        given = [k for k in ("unit", "min", "max") if data.get(k) is not None]
        if given:
            found.append(f"{', '.join(f'`{k}`' for k in given)} only for NUMBER attributes")
    elif data.get("min") is not None and data.get("max") is not None and data["min"] > data["max"]:
        found.append("`min` is above `max`")
    return found


class AttributeFields(BaseModel):
    """An attribute definition as created. SELECT and MULTI_SELECT need `options` (distinct,
    ignoring case); other types may not have them. `unit`, `min` and `max` are for NUMBER only,
    `min` not above `max`. A definition that breaks these is a 400; a slug taken in the org a 409."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug = Field(description="The key of the attribute in a product's `attributes`; unique in the org.")
    type: AttributeType
    description: LongText | None = None
    unit: Unit | None = Field(None, description="NUMBER only: the unit values are given in (`kg`).")
    min: Bound | None = Field(None, description="NUMBER only: the smallest value allowed.")
    max: Bound | None = Field(None, description="NUMBER only: the largest value allowed.")
    options: Options | None = Field(None, description="SELECT and MULTI_SELECT (required there) only.")

    @model_validator(mode="after")
    def _fits_its_type(self) -> AttributeFields:
        if problems := definition_problems(self.model_dump()):
            raise ValueError("; ".join(problems))
        return self


class AttributePatch(BaseModel):
    """The fields a change sets; null clears an optional one. The definition the change leaves is
    held to the same rules as a new one (400). The slug may change only while no product has a
    value for it and no template names it (409)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    slug: Slug | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    type: AttributeType | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    description: LongText | None = None
    unit: Unit | None = None
    min: Bound | None = None
    max: Bound | None = None
    options: Options | None = None


class AttributeDefinition(AttributeFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    tenant_id: str
    org_id: str
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _fits_its_type(self) -> AttributeDefinition:
        return self  # a stored record is read as it is

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this definition; None when it does (null always does: no value)."""
        return value_problem(self, value)


def value_problem(d: AttributeFields, value: Any) -> str | None:
    if value is None:
        return None
    kind = d.type
    if kind is AttributeType.TEXT:
        return None if isinstance(value, str) else "must be text"
    if kind is AttributeType.NUMBER:
        number = as_number(value)
        if number is None:
            return f"must be a number{f' (in {d.unit})' if d.unit else ''}, not {value!r}"
        if d.min is not None and number < d.min:
            return f"{value!r} is below the minimum {_plain(d.min)}"
        if d.max is not None and number > d.max:
            return f"{value!r} is above the maximum {_plain(d.max)}"
        return None
    if kind is AttributeType.BOOLEAN:
        return None if as_boolean(value) is not None else f"must be true or false, not {value!r}"
    if kind is AttributeType.SELECT:
        return None if value in (d.options or []) else f"{value!r} is not one of the options {d.options}"
    if kind is AttributeType.MULTI_SELECT:
        if not isinstance(value, str):
            return f"must be text: options joined by {MULTI_SELECT_SEPARATOR!r}"
        unknown = [v for v in value.split(MULTI_SELECT_SEPARATOR) if v.strip() not in (d.options or [])]
        return f"{unknown} not among the options {d.options}" if unknown else None
    if kind is AttributeType.DATE:
        return None if as_date(value) is not None else f"must be a date (YYYY-MM-DD), not {value!r}"
    if kind is AttributeType.URL:
        return None if _is_url(value) else f"must be an http or https URL, not {value!r}"
    return None


def _plain(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def as_number(value: Any) -> int | float | None:
    """A number, or text that is one (CSV cells are text); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        if not parsed.is_finite():
            return None
        return int(parsed) if parsed == parsed.to_integral_value() and "." not in value else float(parsed)
    return None


def as_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _is_url(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def typed_value(d: AttributeDefinition | None, value: Any) -> Any:
    """The value as its definition's type (for exports): numbers and booleans sent as text become
    numbers and booleans; a value that does not fit is given as it is."""
    if d is None or value is None or d.problem(value) is not None:
        return value
    if d.type is AttributeType.NUMBER:
        return as_number(value)
    if d.type is AttributeType.BOOLEAN:
        return as_boolean(value)
    return value


# --- product templates ---------------------------------------------------------------------
class TemplateAttribute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description="An attribute definition's slug.")
    required: bool = False


class AttributeGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    attributes: list[TemplateAttribute] = Field(default_factory=list, max_length=MAX_GROUP_ATTRIBUTES)


def _distinct_slugs(groups: list[AttributeGroup] | None) -> list[AttributeGroup] | None:
    slugs = [a.slug for g in groups or [] for a in g.attributes]
    if len(set(slugs)) != len(slugs):
        raise ValueError("an attribute appears at most once in a template")
    return groups


class TemplateFields(BaseModel):
    """A product template: groups of defined attributes (each slug a definition of the org, at most
    once in the template: else 400), some required. A slug taken in the org is a 409."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug
    description: LongText | None = None
    attribute_groups: list[AttributeGroup] = Field(default_factory=list, max_length=MAX_GROUPS)

    @model_validator(mode="after")
    def _each_attribute_once(self) -> TemplateFields:
        _distinct_slugs(self.attribute_groups)
        return self


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    slug: Slug | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    description: LongText | None = None
    attribute_groups: Annotated[list[AttributeGroup], Field(max_length=MAX_GROUPS)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default
    )


class ProductTemplate(TemplateFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    tenant_id: str
    org_id: str
    # Every slug the groups name, kept on the record so "which templates use this attribute" is
    # one array-contains query.
    attribute_slugs: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _each_attribute_once(self) -> ProductTemplate:
        self.attribute_slugs = sorted({a.slug for g in self.attribute_groups for a in g.attributes})
        return self

    @property
    def required(self) -> list[str]:
        return [a.slug for g in self.attribute_groups for a in g.attributes if a.required]


def has_value(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


# --- what the catalog and the rules are given ------------------------------------------------
@dataclass(frozen=True)
class CatalogSchema:
    """The attribute definitions of an org (by slug) and the templates a caller needs (by id)."""

    definitions: dict[str, AttributeDefinition] = field(default_factory=dict)
    templates: dict[str, ProductTemplate] = field(default_factory=dict)

    def attribute_problems(self, attributes: dict[str, Any] | None) -> list[FieldProblem]:
        """The values that do not fit their definitions, each named `attributes.<slug>`."""
        found = []
        for slug, value in (attributes or {}).items():
            definition = self.definitions.get(slug)
            if definition is not None and (problem := definition.problem(value)):
                found.append(FieldProblem(f"attributes.{slug}", problem))
        return found

    def missing_required(self, template_id: str | None, attributes: dict[str, Any]) -> list[str] | None:
        """The template's required slugs without a value; None without a (known) template."""
        template = self.templates.get(template_id) if template_id else None
        if template is None:
            return None
        return [slug for slug in template.required if not has_value(attributes.get(slug))]

    def completeness(self, template_id: str | None, attributes: dict[str, Any]) -> int | None:
        """0-100: the share of the template's required attributes that have a value (100 when it
        requires none); None without a template."""
        missing = self.missing_required(template_id, attributes)
        if missing is None:
            return None
        required = self.templates[template_id or ""].required
        return 100 if not required else round(100 * (len(required) - len(missing)) / len(required))


def template_ids(items: Iterable[Any]) -> list[str]:
    """The template ids a list of product bodies or products names (text only; checked later)."""
    found = set()
    for item in items:
        value = item.get("template_id") if isinstance(item, dict) else getattr(item, "template_id", None)
        if isinstance(value, str) and value.strip():
            found.add(value.strip().lower())
    return sorted(found)
