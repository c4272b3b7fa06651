"""One attempt at telling a tenant something finished, by the channel its settings name: a signed
webhook carrying Synq's event envelope, or an email. Exports and bulk jobs both announce their end
through it; each keeps its own delivery record and queues its own next attempt.

Every attempt carries the same event id, so receivers can drop repeats. Nothing is recorded before
the send, on purpose: a worker that dies mid-send leaves the record as it was, Cloud Tasks
redelivers the task (no 2xx came back), and the redelivery makes this same attempt again. An
"in progress" mark would make that redelivery skip the attempt and leave the delivery PENDING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.exports import Delivery, DeliveryStatus
from shared.domain.notifications import SIGNATURE_HEADER, Channel, EventEnvelope, retry_delay, sign
from shared.errors import DeliveryError
from shared.services.ports import Mailer, NotificationSettingsStore, WebhookSender


@dataclass(frozen=True)
class NotifyPolicy:
    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float


@dataclass(frozen=True)
class Attempted:
    """What an attempt did: the delivery record to save (None: nothing to save) and, after a
    failure worth retrying, when the next attempt is due."""

    outcome: str
    delivery: Delivery | None = None
    next_attempt_at: datetime | None = None


@dataclass
class Notifier:
    settings: NotificationSettingsStore
    webhooks: WebhookSender
    mailer: Mailer
    policy: NotifyPolicy
    clock: Callable[[], datetime]

    def attempt(
        self,
        delivery: Delivery | None,
        attempt: int,
        event: Callable[[Delivery], EventEnvelope],
        email: Callable[[], tuple[str, str]],
    ) -> Attempted:
        """Make delivery attempt `attempt` of `delivery` (the record as stored, None when there is
        nothing to tell yet), unless it is settled or a later attempt was made."""
        if delivery is None:
            return Attempted("nothing to tell yet")
        if delivery.status is not DeliveryStatus.PENDING:
            return Attempted(f"already {delivery.status.value}")
        if attempt < delivery.attempts:
            return Attempted("superseded by a later attempt")
        delivery = delivery.model_copy()
        settings = self.settings.get()
        if settings is None:
            delivery.status = DeliveryStatus.NOT_CONFIGURED
            return Attempted("not configured", delivery)
        delivery.attempts, delivery.channel, delivery.next_attempt_at = attempt, settings.channel.value, None
        try:
            if settings.channel is Channel.WEBHOOK:
                assert settings.webhook_url and settings.webhook_secret
                body = event(delivery).model_dump_json().encode()
                signature = sign(settings.webhook_secret, body, int(self.clock().timestamp()))
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature,
                    "X-Synq-Event-Id": delivery.event_id,
                }
                self.webhooks.post(settings.webhook_url, body, headers)
            else:
                subject, text = email()
                self.mailer.send(list(settings.emails), subject, text, f"<{delivery.event_id}@synq-pim>")
        except DeliveryError as exc:
            delivery.last_error = exc.message
            if exc.permanent or attempt >= self.policy.max_attempts:
                delivery.status = DeliveryStatus.FAILED
                return Attempted("delivery failed", delivery)
            delay = retry_delay(attempt, self.policy.backoff_seconds, self.policy.backoff_max_seconds)
            delivery.next_attempt_at = self.clock() + timedelta(seconds=delay)
            return Attempted(f"attempt {attempt} failed; next in {delay:g}s", delivery, delivery.next_attempt_at)
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, self.clock(), None
        return Attempted("delivered", delivery)
