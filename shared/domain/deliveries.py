"""The record of telling a tenant that something finished (an export, a bulk job)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # being sent, or waiting for its next attempt
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # every attempt failed
    NOT_CONFIGURED = "NOT_CONFIGURED"  # the tenant has no notification settings


class Delivery(BaseModel):
    """How the tenant was told about a finished export or bulk job."""

    event_id: str = Field(description="Id of the event; every attempt (and redelivery) carries the same.")
    event_type: str = Field(
        description="export.completed, export.failed, bulk_job.completed, bulk_job.failed, bulk_job.cancelled"
    )
    channel: str | None = Field(None, description="webhook or email, as configured when it was sent.")
    status: DeliveryStatus
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
