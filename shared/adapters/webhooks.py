"""Webhook delivery over HTTP(S), connecting only to addresses the URL rules allow.

The host is resolved once, every address is checked, and the connection goes to a checked
address (TLS still verifies the certificate against the host name). Checking the name and then
letting the HTTP client resolve it again would let DNS answer differently the second time. When
connecting to one checked address fails, the next one is tried (a dual-stack receiver whose IPv6
or IPv4 side is down), still without a second lookup. Redirects are not followed: a redirect could
point anywhere.

A receiver cannot hold the worker: the whole attempt (connecting, TLS, sending, reading the
answer) has one deadline, enforced by shutting the socket down when it passes, since socket
timeouts only bound each single read and a receiver dripping a byte at a time never trips them.
Name resolution counts against the deadline but is bounded by the resolver's own timeouts. Of
the answer only the status and at most `MAX_RESPONSE_BYTES` of body are read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.client import HTTPException
from typing import NoReturn

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError
from urllib3.util.ssl_match_hostname import CertificateError

from shared.domain.notifications import Resolver, UnsafeUrlError, WebhookTarget, check_webhook_url, parse_webhook_url
from shared.errors import DeliveryError

MAX_RESPONSE_BYTES = 64 * 1024
CONNECT_TIMEOUT_CAP = 5.0  # per address, so a dead first address leaves time for the next


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order of preference (OSError when none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class DeadlineExpiredError(Exception):
    pass


class _Deadline:
    """Shuts down the attempt's socket when the deadline passes, waking whatever read or write
    is blocked on it. A dup of the socket is watched, so the TLS wrapping that replaces the socket
    object does not hide it (shutdown acts on the connection, whichever descriptor names it)."""

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None

    def passed(self) -> bool:
        """Time is up, whether or not the timer has shut the socket down yet (a socket timeout set
        to the time left may end a read first)."""
        return time.monotonic() >= self._at

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise DeadlineExpiredError
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
            self._sock = sock.dup()
            if self._timer is None:
                self._timer = threading.Timer(max(0.0, self._at - time.monotonic()), self._expire)
                self._timer.daemon = True
                self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    self._sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class _Watched:
    """Hands the connection's socket to the deadline as soon as it is connected."""

    deadline: _Deadline

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self.deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class HttpWebhookSender:
    """Implements WebhookSender."""

    def __init__(self, allow_private: bool, timeout_seconds: float, resolver: Resolver = resolve) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_seconds  # the deadline of one whole attempt
        self._resolve = resolver

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        deadline = _Deadline(self._timeout)
        try:
            self._post(url, body, headers, deadline)
        except DeadlineExpiredError:
            raise DeliveryError(f"webhook attempt exceeded its {self._timeout:g} s deadline") from None
        finally:
            deadline.stop()

    def _post(self, url: str, body: bytes, headers: dict[str, str], deadline: _Deadline) -> None:
        try:
            target = parse_webhook_url(url)
        except UnsafeUrlError as exc:
            raise DeliveryError(f"webhook URL refused: {exc}", permanent=True) from exc
        try:
            addresses = self._resolve(target.host, target.port)
        except OSError as exc:
            raise DeliveryError(f"{target.host} does not resolve: {exc}") from exc
        if not addresses:
            raise DeliveryError(f"{target.host} does not resolve")
        try:
            check_webhook_url(url, self._allow_private, lambda _host, _port: addresses)
        except UnsafeUrlError as exc:
            raise DeliveryError(f"webhook URL refused: {exc}", permanent=True) from exc
        headers = {**headers, "Host": target.host_header, "User-Agent": "Synq-PIM-Webhooks/1"}
        failures: list[str] = []
        for address in addresses:
            connection = self._connection(target, address, deadline)
            try:
                connection.connect()
            except ConnectTimeoutError as exc:  # refused, unreachable or timed out: nothing was sent
                _ = deadline.remaining()  # out of time: say so rather than try the next address
                failures.append(f"{address}: {exc.__cause__ or exc}")
                connection.close()
                continue
            except (HTTPError, OSError, CertificateError) as exc:  # TLS: the next address shows the same
                connection.close()
                self._fail(deadline, f"webhook POST failed: {type(exc).__name__}: {exc}", exc)
            try:
                status = self._exchange(connection, target, body, headers, deadline)
            except (HTTPError, HTTPException, OSError) as exc:
                self._fail(deadline, f"webhook POST failed: {type(exc).__name__}: {exc}", exc)
            finally:
                connection.close()
            if not 200 <= status < 300:
                raise DeliveryError(f"webhook receiver answered {status}")
            return
        raise DeliveryError(f"could not connect to {target.host}: " + "; ".join(failures))

    def _connection(self, target: WebhookTarget, address: str, deadline: _Deadline) -> HTTPConnection:
        timeout = min(CONNECT_TIMEOUT_CAP, deadline.remaining())
        connection: _WatchedHTTPConnection | _WatchedHTTPSConnection
        if target.scheme == "https":
            connection = _WatchedHTTPSConnection(
                address,
                target.port,
                timeout=timeout,
                server_hostname=target.host,  # SNI, and the name the certificate must carry
                cert_reqs="CERT_REQUIRED",
            )
        else:
            connection = _WatchedHTTPConnection(address, target.port, timeout=timeout)
        connection.deadline = deadline
        return connection

    @staticmethod
    def _exchange(
        connection: HTTPConnection, target: WebhookTarget, body: bytes, headers: dict[str, str], deadline: _Deadline
    ) -> int:
        """Send the request; read the status and at most MAX_RESPONSE_BYTES of the body."""
        connection.timeout = deadline.remaining()  # each socket operation; the deadline bounds the sum
        connection.request(
            "POST", target.target, body=body, headers=headers, preload_content=False, decode_content=False
        )
        response = connection.getresponse()
        # The status is the answer: a body cut short does not change it. Whatever follows the first
        # MAX_RESPONSE_BYTES is never read (the connection is closed).
        with contextlib.suppress(HTTPError, HTTPException, OSError):
            response.read(MAX_RESPONSE_BYTES)
        if deadline.passed():  # the shutdown, or a read timing out at the deadline, cut the body short
            raise DeadlineExpiredError
        return int(response.status)

    @staticmethod
    def _fail(deadline: _Deadline, message: str, exc: Exception) -> NoReturn:
        if deadline.passed():  # the shutdown, or a socket timeout at the deadline
            raise DeadlineExpiredError from exc
        raise DeliveryError(message) from exc
