"""`notification_settings`: where a tenant is told about finished exports (webhook or email)."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import wiring
from shared.domain.notifications import NotificationSettingsInput, NotificationSettingsView
from shared.http import Api, Call, Reply

api = Api("notification_settings", tag="Settings")
PATH = "/api/v1/pim/settings/notifications"


@api.route(
    PATH,
    "GET",
    response=NotificationSettingsView,
    errors=(404,),  # before the first PUT
    summary="The notification settings (secret masked)",
)
def get_notification_settings(call: Call) -> Reply:
    return wiring.notification_settings(call.principal.scope).get(), 200


@api.route(
    PATH,
    "PUT",
    admin=True,
    body=NotificationSettingsInput,
    response=NotificationSettingsView,
    summary="Replace the notification settings (ADMIN only)",
)
def replace_notification_settings(call: Call) -> Reply:
    change = call.body(NotificationSettingsInput)
    return wiring.notification_settings(call.principal.scope).put(call.principal, change), 200


@functions_framework.http
def notification_settings(request: Any) -> Any:
    return api(request)
