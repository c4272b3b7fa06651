"""Telling a tenant an export or a bulk job finished: its notification settings, the webhook event
(Synq's envelope) and its signature, the email text, and the rules a webhook URL must pass (no
server-side request forgery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints, model_validator

from shared.domain.deliveries import Delivery, DeliveryStatus
from shared.domain.exports import ExportStatus, ExportView
from shared.domain.models import BulkJobView, JobStatus

SIGNATURE_HEADER = "X-Synq-Signature"
EVENT_NAMESPACE = uuid.UUID("8d3c6a52-6f55-4d8a-9a38-0c5d1f0e7b21")
SECRET_MIN_LENGTH = 16
MAX_EMAILS = 20
# Names that reach a cloud metadata server whatever they resolve to from here.
METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog"}


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


def _printable(value: str) -> str:
    # A secret with a NUL or a line break is a paste gone wrong, and receivers could not type it.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("must not contain control characters")
    return value


WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Secret = Annotated[str, StringConstraints(min_length=SECRET_MIN_LENGTH, max_length=256), AfterValidator(_printable)]


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


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL taken apart the way a delivery needs it."""

    scheme: str
    host: str  # an ASCII (IDNA) host name, or an IP address without brackets
    port: int
    target: str  # path and query as sent on the request line, non-ASCII percent-encoded
    explicit_port: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.explicit_port else host


# A host name label once IDNA-encoded (underscores occur in real names, so they pass).
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# Unreserved, reserved and '%' stay as they are on the request line; anything else is quoted.
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


def parse_webhook_url(url: str, schemes: tuple[str, ...] = ("http", "https")) -> WebhookTarget:
    """Take `url` apart or raise UnsafeUrlError saying what is wrong with it (never anything else).

    Whitespace and control characters are refused rather than silently dropped (urlsplit drops
    tabs and newlines), and the host must be an IP address or a name that IDNA can encode: a URL
    that could only fail at delivery time is refused when it is set.
    """
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in url):
        raise UnsafeUrlError("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL", characters invalid under NFKC
        raise UnsafeUrlError(f"the URL is malformed ({exc})") from exc
    try:
        explicit = parts.port
    except ValueError as exc:  # out of range, not a number
        raise UnsafeUrlError("the URL has an invalid port") from exc
    if parts.scheme not in schemes:
        raise UnsafeUrlError(f"the URL must use {' or '.join(schemes)}")
    if not hostname:
        raise UnsafeUrlError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("the URL must not carry credentials")
    if explicit == 0:
        raise UnsafeUrlError("the URL has an invalid port")
    return WebhookTarget(
        scheme=parts.scheme,
        host=_ascii_host(hostname, bracketed="[" in parts.netloc),
        port=explicit or (443 if parts.scheme == "https" else 80),
        target=quote(parts.path or "/", safe=_URL_SAFE)
        + (f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""),
        explicit_port=explicit is not None,
    )


def _ascii_host(hostname: str, bracketed: bool) -> str:
    if bracketed:
        if "%" in hostname:  # a zone id names an interface of the sender's own host
            raise UnsafeUrlError("the URL's IPv6 address must not carry a zone id")
        try:
            ip = ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise UnsafeUrlError("the URL's IPv6 address is invalid") from exc
        return str(ip)
    name = hostname.rstrip(".")
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        pass
    try:
        encoded = name.encode("idna").decode("ascii")
    except UnicodeError as exc:  # an empty or over-long label, a character IDNA refuses
        raise UnsafeUrlError(f"the host name is invalid ({exc})") from exc
    if len(encoded) > 253 or not all(_LABEL.match(label) for label in encoded.split(".")):
        raise UnsafeUrlError("the host name is invalid")
    return encoded.lower()


def check_webhook_url(url: str, allow_private: bool, resolve: Resolver) -> WebhookTarget:
    """The parsed URL, or UnsafeUrlError unless `url` may receive webhooks.

    In production (allow_private False) it must be https and every address its host resolves to
    must be public (see `is_public_address`). The local stack allows http and any address, for
    receivers on 127.0.0.1.
    """
    target = parse_webhook_url(url, ("http", "https") if allow_private else ("https",))
    if allow_private:
        return target
    if target.host in METADATA_HOSTS:
        raise UnsafeUrlError("the URL points at a metadata server")
    try:
        addresses = resolve(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrlError(f"the host {target.host} does not resolve") from exc
    if not addresses:
        raise UnsafeUrlError(f"the host {target.host} does not resolve")
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrlError(f"the host resolves to a non-public address ({address})")
    return target


# IPv6 ranges refused whole: IPv4-compatible (deprecated; holds :: and ::1), local-use NAT64
# (operator-defined, never global), Teredo (a tunnel whose client address is obfuscated) and
# site-local (deprecated, internal). Python's own is_global lets some of these through.
_REFUSED_V6 = [ipaddress.IPv6Network(n) for n in ("::/96", "64:ff9b:1::/48", "2001::/32", "fec0::/10")]
# IPv6 ranges that carry an IPv4 address the packet ends up at: judged by that IPv4 address.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # IPv4-mapped
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # IPv4-translated (SIIT)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # NAT64 well-known prefix
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, IPv4-translated, NAT64 or 6to4 address leads to."""
    if ip in _MAPPED or ip in _TRANSLATED or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def is_public_address(address: str) -> bool:
    """No loopback, private, link-local (cloud metadata), shared, reserved or multicast address,
    and no IPv6 address that embeds one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _REFUSED_V6):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(str(inner))
    return ip.is_global and not ip.is_multicast


# --- the event and its signature -----------------------------------------------------------
class EventEnvelope(BaseModel):
    """Every event Synq sends, in Synq's one envelope: what happened (`event_type`, `domain.action`)
    to which tenant and org, when, and the resource as it then was (`payload`)."""

    event_id: str = Field(description="A UUID, the same on every attempt: receivers drop repeats by it.")
    event_type: str
    timestamp: datetime = Field(description="When it happened (ISO 8601, UTC).")
    tenant_id: str
    org_id: str
    payload: dict[str, Any]


def event_type(status: ExportStatus) -> str:
    return "export.completed" if status is ExportStatus.COMPLETED else "export.failed"


def job_event_type(status: JobStatus) -> str:
    """bulk_job.completed, bulk_job.failed or bulk_job.cancelled."""
    return f"bulk_job.{status.value.lower()}"


def job_delivery(job_id: str, status: JobStatus) -> Delivery:
    """The pending announcement of a job's final status, recorded with that status."""
    kind = job_event_type(status)
    return Delivery(event_id=event_id(job_id, kind), event_type=kind, status=DeliveryStatus.PENDING)


def event_id(subject_id: str, kind: str) -> str:
    """The same resource and outcome always make the same event id (receivers dedupe on it)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{subject_id}/{kind}"))


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


def job_email_text(job: BulkJobView) -> tuple[str, str]:
    """Subject and plain-text body of the email about a bulk job that reached a final status."""
    kind = job.job_type.value.removeprefix("BULK_").lower()
    run = "dry run" if job.dry_run else "job"
    subject = (
        f"Your bulk {kind} {run} {job.status.value.lower()} ({job.processed_items} applied, {job.failed_items} failed)"
    )
    lines = [
        f"Bulk {kind} {run} {job.id}: {job.status.value}",
        f"Items: {job.total_items if job.total_items is not None else 0}",
        f"Applied: {job.processed_items}",
        f"Failed: {job.failed_items}",
    ]
    if job.failure_reason:
        lines.append(f"Why it failed: {job.failure_reason}")
    if job.dry_run_report is not None:
        r = job.dry_run_report
        lines.append(f"Would create {r.creates}, update {r.updates}, delete {r.deletes}")
        lines += [f"  {code}: {count}" for code, count in r.issues.items()]
    if job.failed_items:
        lines += ["", f"Every failure: GET /api/v1/pim/bulk-jobs/{job.id}/errors"]
    return subject, "\n".join(lines) + "\n"
