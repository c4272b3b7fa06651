"""Webhook delivery over HTTP(S), connecting only to addresses the URL rules allow.

The host is resolved once, every address is checked, and the connection goes to a checked
address (TLS still verifies the certificate against the host name). Checking the name and then
letting the HTTP client resolve it again would let DNS answer differently the second time.
Redirects are not followed: a redirect could point anywhere.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import urllib3

from shared.domain.notifications import UnsafeUrlError, check_webhook_url
from shared.errors import DeliveryError


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (OSError when it does not)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


class HttpWebhookSender:
    """Implements WebhookSender."""

    def __init__(self, allow_private: bool, timeout_seconds: float) -> None:
        self._allow_private = allow_private
        self._timeout = urllib3.Timeout(connect=min(5.0, timeout_seconds), read=timeout_seconds)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise DeliveryError(f"{host} does not resolve: {exc}") from exc
        try:
            check_webhook_url(url, self._allow_private, lambda _host, _port: addresses)
        except UnsafeUrlError as exc:
            raise DeliveryError(f"webhook URL refused: {exc}", permanent=True) from exc
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                addresses[0], port, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED"
            )
        else:
            pool = urllib3.HTTPConnectionPool(addresses[0], port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        try:
            with pool:
                response = pool.urlopen(
                    "POST",
                    path,
                    body=body,
                    headers={**headers, "Host": host_header, "User-Agent": "Synq-PIM-Webhooks/1"},
                    redirect=False,
                    retries=False,
                    timeout=self._timeout,
                )
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryError(f"webhook POST failed: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status < 300:
            raise DeliveryError(f"webhook receiver answered {response.status}")
