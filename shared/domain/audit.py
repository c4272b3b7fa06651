"""Audit events: the immutable record of every create, update and delete of a PIM resource.

An event is built here, from the resource before and after the change, and written by storage in
the same atomic write as the change itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

# Bookkeeping fields a diff leaves out: they change with every write and say nothing about it.
# (A variant's product is the event's parent_id.)
UNTRACKED = frozenset(
    {
        "id",
        "tenant_id",
        "org_id",
        "created_at",
        "updated_at",
        "created_by",
        "job_id",
        "product_id",
        "data_quality_score",
        "variant_skus",
        "completeness",
        "attribute_slugs",
    }
)


class ResourceType(StrEnum):
    PRODUCT = "product"
    VARIANT = "variant"
    BRAND = "brand"
    CATEGORY = "category"
    BULK_JOB = "bulk_job"
    ATTRIBUTE = "attribute"
    PRODUCT_TEMPLATE = "product_template"


class Verb(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    CANCELLED = "cancelled"


class FieldChange(BaseModel):
    before: Any = None
    after: Any = None


class AuditEvent(BaseModel):
    id: str
    tenant_id: str
    org_id: str
    actor_email: str
    action: str = Field(description="`<resource_type>.<verb>`, e.g. product.created, variant.updated.")
    resource_type: ResourceType
    resource_id: str
    created_at: datetime
    job_id: str | None = Field(None, description="The bulk job that made the change, if one did.")
    parent_id: str | None = Field(None, description="For a variant, its product.")
    changes: dict[str, FieldChange] = Field(
        default_factory=dict, description="Each changed field with its value before and after."
    )


@dataclass(frozen=True)
class ChangeContext:
    """Who changes the catalog, where, and when; `job_id` when a bulk job does it."""

    tenant_id: str
    org_id: str
    actor_email: str
    now: datetime
    job_id: str | None = None

    def event(
        self,
        resource_type: ResourceType,
        verb: Verb,
        resource_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        event_id: str | None = None,
        parent_id: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            id=event_id or str(uuid.uuid4()),
            tenant_id=self.tenant_id,
            org_id=self.org_id,
            actor_email=self.actor_email,
            action=f"{resource_type.value}.{verb.value}",
            resource_type=resource_type,
            resource_id=resource_id,
            created_at=self.now,
            job_id=self.job_id,
            parent_id=parent_id,
            changes=diff(before, after),
        )


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, FieldChange]:
    """Fields whose value differs, with both values (JSON-ready: pass `model_dump(mode="json")`)."""
    before, after = before or {}, after or {}
    names = (before.keys() | after.keys()) - UNTRACKED
    return {
        n: FieldChange.model_construct(before=before.get(n), after=after.get(n))  # any values: nothing to check
        for n in sorted(names)
        if before.get(n) != after.get(n) and not (_empty(before.get(n)) and _empty(after.get(n)))
    }


def _empty(value: Any) -> bool:
    """None, {} and [] all mean "nothing here": going from one to another is no change."""
    return value is None or value == {} or value == []
