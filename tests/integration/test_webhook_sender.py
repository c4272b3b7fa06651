"""The webhook sender against local receivers that record what reaches them: what it sends and
where, which answers count as delivered, which failures are worth another attempt, and that it
never follows a redirect, trusts a certificate it cannot verify, or connects where production
must not."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.emulators import free_port
from shared.adapters.webhooks import HttpWebhookSender
from shared.errors import DeliveryError
from tests.support import self_signed_certificate

BODY = b'{"id": "evt_1", "type": "export.completed"}'
SENT = {"Content-Type": "application/json", "X-Synq-Event-Id": "evt_1"}


@dataclass
class Receiver:
    """Answers every POST with `status` after `delay` seconds; keeps each request."""

    status: int = 200
    delay: float = 0.0
    tls: ssl.SSLContext | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def refusal(sender: HttpWebhookSender, url: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as refused:
        sender.post(url, BODY, SENT)
    return refused.value


def test_the_event_is_posted_to_the_urls_path_and_query_with_its_headers(receiver: Receiver) -> None:
    HttpWebhookSender(allow_private=True, timeout_seconds=5).post(
        f"http://127.0.0.1:{receiver.port}/hooks/synq?source=pim", BODY, SENT
    )
    [request] = receiver.requests
    assert request["path"] == "/hooks/synq?source=pim" and request["body"] == BODY
    assert {k: request["headers"].get(k) for k in ("Host", "User-Agent", "Content-Type", "X-Synq-Event-Id")} == {
        "Host": f"127.0.0.1:{receiver.port}",
        "User-Agent": "Synq-PIM-Webhooks/1",
        "Content-Type": "application/json",
        "X-Synq-Event-Id": "evt_1",
    }
    HttpWebhookSender(allow_private=True, timeout_seconds=5).post(f"http://127.0.0.1:{receiver.port}", BODY, SENT)
    assert receiver.requests[1]["path"] == "/"


@pytest.mark.parametrize(
    ("status", "delivered"),
    [(200, True), (204, True), (299, True), (300, False), (302, False), (404, False), (500, False)],
)
def test_only_a_2xx_answer_is_a_delivery_and_a_redirect_is_not_followed(
    receiver: Receiver, status: int, delivered: bool
) -> None:
    receiver.status = status
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=5)
    url = f"http://127.0.0.1:{receiver.port}/hook"
    if delivered:
        sender.post(url, BODY, SENT)
    else:
        failed = refusal(sender, url)
        assert (failed.message, failed.permanent) == (f"webhook receiver answered {status}", False)
    assert len(receiver.requests) == 1


def test_production_refuses_for_good_a_url_that_reaches_inside(receiver: Receiver) -> None:
    sender = HttpWebhookSender(allow_private=False, timeout_seconds=5)
    plain = refusal(sender, f"http://127.0.0.1:{receiver.port}/hook")
    assert (plain.message, plain.permanent) == ("webhook URL refused: the URL must use https", True)
    inside = refusal(sender, f"https://localhost:{receiver.port}/hook")
    assert inside.permanent and inside.message.startswith("webhook URL refused: the host resolves to a non-public")
    assert receiver.requests == []


def test_a_host_that_does_not_resolve_is_worth_another_attempt() -> None:
    failed = refusal(HttpWebhookSender(allow_private=True, timeout_seconds=5), "http://no-such-host.invalid/hook")
    assert failed.message.startswith("no-such-host.invalid does not resolve") and not failed.permanent


def test_a_receiver_that_is_down_or_too_slow_is_worth_another_attempt(receiver: Receiver) -> None:
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=0.5)
    down = refusal(sender, f"http://127.0.0.1:{free_port()}/hook")
    assert down.message.startswith("could not connect to 127.0.0.1") and not down.permanent
    receiver.delay = 3
    slow = refusal(sender, f"http://127.0.0.1:{receiver.port}/hook")
    assert slow.message == "webhook attempt exceeded its 0.5 s deadline" and not slow.permanent


def self_signed(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for `localhost` only and a server context presenting it."""
    cert_file, key_file = self_signed_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


def test_https_needs_a_certificate_it_can_verify_for_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert_file, context = self_signed(tmp_path)
    receiver = Receiver(tls=context)
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=5)
    try:
        untrusted = refusal(sender, f"https://localhost:{receiver.port}/hook")
        assert untrusted.message.startswith("webhook POST failed: ") and not untrusted.permanent
        assert receiver.requests == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # now trusted, for the name localhost only
        sender.post(f"https://localhost:{receiver.port}/hook", BODY, SENT)
        assert receiver.requests[0]["headers"]["Host"] == f"localhost:{receiver.port}"
        wrong_name = refusal(sender, f"https://127.0.0.1:{receiver.port}/hook")
        assert wrong_name.message.startswith("webhook POST failed: ") and len(receiver.requests) == 1
    finally:
        receiver.stop()


class SlowReceiver:
    """A receiver that sends `at_once` bytes of `answer` at once and the rest a byte every `pace`
    seconds (each read gets a byte long before any socket timeout, so only the attempt's own
    deadline can end it), then holds the connection open. Records how many bytes it sent and
    whether the connection was cut under it. Without `hold`, it closes the connection instead."""

    def __init__(self, answer: bytes, at_once: int = 0, pace: float = 0.05, hold: bool = True) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answer, self.at_once, self.pace, self.hold = answer, at_once, pace, hold
        self.sent = 0
        self.cut, self.done = threading.Event(), threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            read_request(conn)  # whole: a close with bytes unread would reset the connection
            try:
                conn.sendall(self.answer[: self.at_once])
                self.sent = self.at_once
                for byte in self.answer[self.at_once :]:
                    conn.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(self.pace)
                if self.hold:
                    self.done.wait(30)
            except OSError:
                self.cut.set()

    def close(self) -> None:
        self.done.set()
        self.listener.close()


def read_request(conn: socket.socket) -> bytes:
    """One request, head and body (the sender sends them apart), or what came before the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    while lengths and len(body) < int(lengths[0]) and (chunk := conn.recv(65536)):
        body += chunk
    return head + body


DRIPPED = b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n\r\n"


def head(promised: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {promised}\r\n\r\n".encode()


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_deadline() -> None:
    dripper = SlowReceiver(DRIPPED)
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=0.5)
    failed = refusal(sender, f"http://127.0.0.1:{dripper.port}/hook")
    assert failed.message == "webhook attempt exceeded its 0.5 s deadline" and not failed.permanent
    assert dripper.cut.wait(10)  # the connection was shut down under it
    assert dripper.sent < len(DRIPPED)
    dripper.close()


def test_a_url_the_sender_cannot_take_apart_or_that_resolves_to_nothing() -> None:
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=5, resolver=lambda _host, _port: [])
    unusable = refusal(sender, "ftp://example.com/hook")
    assert (unusable.message, unusable.permanent) == ("webhook URL refused: the URL must use http or https", True)
    nowhere = refusal(sender, "https://example.com/hook")
    assert (nowhere.message, nowhere.permanent) == ("example.com does not resolve", False)


def test_of_the_answer_only_the_status_and_64_kib_of_body_are_read() -> None:
    # 64 KiB sent of the 10 MB promised: reading one byte more would wait out the deadline.
    held = SlowReceiver(head(10_000_000) + b"x" * 64 * 1024, at_once=len(head(10_000_000)) + 64 * 1024)
    try:
        HttpWebhookSender(allow_private=True, timeout_seconds=5).post(f"http://127.0.0.1:{held.port}/hook", BODY, SENT)
    finally:
        held.close()


def test_a_200_whose_body_drips_past_the_deadline_is_not_a_delivery() -> None:
    # The status came in time, but the attempt did not end in time: the receiver may still be
    # working, and the next attempt is the one that counts.
    held = SlowReceiver(head(1000) + b"x" * 1000, at_once=len(head(1000)))
    try:
        failed = refusal(HttpWebhookSender(allow_private=True, timeout_seconds=0.5), f"http://127.0.0.1:{held.port}/h")
        assert (failed.message, failed.permanent) == ("webhook attempt exceeded its 0.5 s deadline", False)
    finally:
        held.close()


def resolving_to(*addresses: str) -> HttpWebhookSender:
    """A sender for which every host resolves to `addresses`, in that order."""
    return HttpWebhookSender(allow_private=True, timeout_seconds=5, resolver=lambda _host, _port: list(addresses))


def test_when_one_address_refuses_the_next_is_tried_without_a_second_lookup(receiver: Receiver) -> None:
    # 127.0.0.2 is loopback too, but the receiver listens on 127.0.0.1 only: a dual-stack host
    # whose first side is down.
    resolving_to("127.0.0.2", "127.0.0.1").post(f"http://receiver.test:{receiver.port}/hook", BODY, SENT)
    assert len(receiver.requests) == 1 and receiver.requests[0]["headers"]["Host"] == f"receiver.test:{receiver.port}"


def test_when_every_address_refuses_the_failure_names_each_and_is_worth_another_attempt() -> None:
    failed = refusal(resolving_to("127.0.0.2", "127.0.0.1"), f"http://receiver.test:{free_port()}/hook")
    refused = "[Errno 111] Connection refused"
    assert (failed.message, failed.permanent) == (
        f"could not connect to receiver.test: 127.0.0.2: {refused}; 127.0.0.1: {refused}",
        False,
    )


def test_a_receiver_that_hangs_up_without_answering_is_worth_another_attempt() -> None:
    hangs_up = SlowReceiver(b"", hold=False)
    failed = refusal(resolving_to("127.0.0.1"), f"http://127.0.0.1:{hangs_up.port}/hook")
    assert (failed.message, failed.permanent) == (
        "webhook POST failed: RemoteDisconnected: Remote end closed connection without response",
        False,
    )
    hangs_up.close()


@pytest.fixture()
def unanswered_port() -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is full: a connection attempt to it
    waits for its timeout, as one to a host that drops packets does."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    queued = [socket.socket() for _ in range(4)]
    for sock in queued:
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
    time.sleep(0.2)  # the queue fills as the handshakes complete
    yield port
    for sock in [*queued, listener]:
        sock.close()


def test_a_connection_that_outlasts_the_deadline_ends_the_attempt_there(unanswered_port: int) -> None:
    # The connect timeout is the time left; once it has run out, the deadline is what failed
    # (not "could not connect"), and no further address is tried.
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=0.5)
    failed = refusal(sender, f"http://127.0.0.1:{unanswered_port}/hook")
    assert (failed.message, failed.permanent) == ("webhook attempt exceeded its 0.5 s deadline", False)
