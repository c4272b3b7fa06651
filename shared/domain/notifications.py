"""Telling a tenant an export finished: its notification settings, the webhook event and its
signature, the email text, and the rules a webhook URL must pass (no server-side request forgery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, EmailStr, Field, StringConstraints, model_validator

from shared.domain.exports import ExportStatus, ExportView

SIGNATURE_HEADER = "X-Synq-Signature"
EVENT_NAMESPACE = uuid.UUID("8d3c6a52-6f55-4d8a-9a38-0c5d1f0e7b21")
SECRET_MIN_LENGTH = 16
MAX_EMAILS = 20
# Names that reach a cloud metadata server whatever they resolve to from here.
METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog"}


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Secret = Annotated[str, StringConstraints(min_length=SECRET_MIN_LENGTH, max_length=256)]


class NotificationSettingsInput(BaseModel):
    """PUT body. Omit `webhook_secret` to keep the current one."""

    model_config = {"extra": "forbid"}

    channel: Channel
    webhook_url: WebhookUrl | None = None
    webhook_secret: Secret | None = Field(None, description=f"At least {SECRET_MIN_LENGTH} characters.")
    emails: list[EmailStr] = Field(default_factory=list, max_length=MAX_EMAILS)

    @model_validator(mode="after")
    def _channel_needs_its_target(self) -> NotificationSettingsInput:
        if self.channel is Channel.WEBHOOK and not self.webhook_url:
            raise ValueError("the webhook channel needs webhook_url")
        if self.channel is Channel.EMAIL and not self.emails:
            raise ValueError("the email channel needs at least one address in emails")
        if len({e.lower() for e in self.emails}) != len(self.emails):
            raise ValueError("emails holds an address twice")
        return self


class NotificationSettingsView(BaseModel):
    """Settings as the API shows them: the secret masked."""

    channel: Channel
    webhook_url: str | None = None
    webhook_secret: str | None = Field(None, description="Masked: only its last four characters show.")
    emails: list[str] = Field(default_factory=list)
    updated_by: str
    updated_at: datetime


class NotificationSettings(NotificationSettingsView):
    """Settings as stored (the secret in full: it keys the signature)."""

    def view(self) -> NotificationSettingsView:
        secret = self.webhook_secret
        masked = "*" * 12 + secret[-4:] if secret else None
        return NotificationSettingsView.model_validate({**self.model_dump(), "webhook_secret": masked})


# --- the webhook URL rules -----------------------------------------------------------------
Resolver = Callable[[str, int], list[str]]


class UnsafeUrlError(ValueError):
    pass


def check_webhook_url(url: str, allow_private: bool, resolve: Resolver) -> None:
    """Raise UnsafeUrlError unless `url` may receive webhooks.

    In production (allow_private False) it must be https and every address its host resolves to
    must be public: no loopback, private, link-local (cloud metadata), shared or reserved range.
    The local stack allows http and any address, for receivers on 127.0.0.1.
    """
    parts = urlsplit(url)
    schemes = ("http", "https") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrlError(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise UnsafeUrlError("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrlError("the URL has an invalid port") from exc
    if allow_private:
        return
    if parts.hostname.rstrip(".").lower() in METADATA_HOSTS:
        raise UnsafeUrlError("the URL points at a metadata server")
    try:
        addresses = resolve(parts.hostname, port)
    except OSError as exc:
        raise UnsafeUrlError(f"the host {parts.hostname} does not resolve") from exc
    if not addresses:
        raise UnsafeUrlError(f"the host {parts.hostname} does not resolve")
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrlError(f"the host resolves to a non-public address ({address})")


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not ip.is_multicast


# --- the event and its signature -----------------------------------------------------------
class ExportEvent(BaseModel):
    id: str
    type: str
    created_at: datetime
    export: ExportView


def event_type(status: ExportStatus) -> str:
    return "export.completed" if status is ExportStatus.COMPLETED else "export.failed"


def event_id(export_id: str, kind: str) -> str:
    """The same export and outcome always make the same event id (receivers dedupe on it)."""
    return f"evt_{uuid.uuid5(EVENT_NAMESPACE, f'{export_id}/{kind}').hex}"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the X-Synq-Signature value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and is recent (an old one is a replay)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): doubling from base, capped."""
    return float(min(cap_seconds, base_seconds * 2 ** (attempt - 1)))


# --- email ---------------------------------------------------------------------------------
def email_text(export: ExportView) -> tuple[str, str]:
    """Subject and plain-text body of the email about a finished export."""
    if export.status is ExportStatus.COMPLETED:
        subject = f"Your catalog export is ready ({export.row_count} products)"
        lines = [
            f"Your {export.format.value} export {export.id} is ready.",
            f"Products exported: {export.row_count}",
            f"Products left out for open ERROR validation issues: {export.excluded_count}",
            f"Size: {export.size_bytes} bytes",
            "",
            f"Download (link valid until {export.download_url_expires_at:%Y-%m-%d %H:%M} UTC):",
            f"{export.download_url}",
            "",
            "After that, GET /api/v1/pim/exports/" + export.id + " returns a fresh link.",
        ]
    else:
        subject = "Your catalog export failed"
        lines = [f"Your {export.format.value} export {export.id} failed: {export.failure_reason}"]
    return subject, "\n".join(lines) + "\n"
