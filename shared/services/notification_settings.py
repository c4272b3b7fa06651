"""A tenant's notification settings: where export events go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.domain.notifications import (
    Channel,
    NotificationSettings,
    NotificationSettingsInput,
    NotificationSettingsView,
    Resolver,
    UnsafeUrlError,
    check_webhook_url,
)
from shared.domain.tenancy import Principal
from shared.errors import FieldProblem, InvalidArgumentError, NotFoundError
from shared.services.ports import NotificationSettingsStore


@dataclass
class NotificationSettingsService:
    store: NotificationSettingsStore
    allow_private_webhooks: bool  # the local stack's receivers listen on 127.0.0.1
    resolve: Resolver
    clock: Callable[[], datetime]

    def get(self) -> NotificationSettingsView:
        settings = self.store.get()
        if settings is None:
            raise NotFoundError("no notification settings yet: PUT them first")
        return settings.view()

    def put(self, actor: Principal, change: NotificationSettingsInput) -> NotificationSettingsView:
        secret = None
        if change.channel is Channel.WEBHOOK:
            assert change.webhook_url
            try:
                check_webhook_url(change.webhook_url, self.allow_private_webhooks, self.resolve)
            except UnsafeUrlError as exc:
                raise InvalidArgumentError("webhook_url refused", [FieldProblem("webhook_url", str(exc))]) from exc
            current = self.store.get()
            secret = change.webhook_secret or (current.webhook_secret if current else None)
            if not secret:
                raise InvalidArgumentError(
                    "webhook_secret required", [FieldProblem("webhook_secret", "the webhook channel needs a secret")]
                )
        settings = NotificationSettings(
            channel=change.channel,
            webhook_url=change.webhook_url,
            webhook_secret=secret,
            emails=[str(e) for e in change.emails],
            updated_by=actor.email,
            updated_at=self.clock(),
        )
        self.store.put(settings)
        return settings.view()
