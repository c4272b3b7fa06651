"""The webhook sender against local receivers that record what reaches them: what it sends and
where, which answers count as delivered, which failures are worth another attempt, and that it
never follows a redirect, trusts a certificate it cannot verify, or connects where production
must not."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local.emulators import free_port
from shared.adapters import webhooks
from shared.adapters.webhooks import HttpWebhookSender
from shared.errors import DeliveryError

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


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://hooks.example.com/x", 443),
        ("http://hooks.example.com/x", 80),
        ("https://hooks.example.com:8443/x", 8443),
    ],
)
def test_the_host_is_resolved_for_the_port_the_url_means(monkeypatch: pytest.MonkeyPatch, url: str, port: int) -> None:
    asked: list[tuple[str, int]] = []

    def unresolvable(host: str, port: int) -> list[str]:
        asked.append((host, port))
        raise OSError("no such host")

    monkeypatch.setattr(webhooks, "resolve", unresolvable)
    refusal(HttpWebhookSender(allow_private=True, timeout_seconds=5), url)
    assert asked == [("hooks.example.com", port)]


def test_a_host_that_does_not_resolve_is_worth_another_attempt() -> None:
    failed = refusal(HttpWebhookSender(allow_private=True, timeout_seconds=5), "http://no-such-host.invalid/hook")
    assert failed.message.startswith("no-such-host.invalid does not resolve") and not failed.permanent


def test_a_receiver_that_is_down_or_too_slow_is_worth_another_attempt(receiver: Receiver) -> None:
    sender = HttpWebhookSender(allow_private=True, timeout_seconds=0.5)
    down = refusal(sender, f"http://127.0.0.1:{free_port()}/hook")
    # One connection attempt: retrying belongs to the next delivery attempt, with its backoff.
    assert down.message.startswith("webhook POST failed: NewConnectionError") and not down.permanent
    receiver.delay = 3
    slow = refusal(sender, f"http://127.0.0.1:{receiver.port}/hook")
    assert slow.message.startswith("webhook POST failed: ReadTimeoutError") and not slow.permanent


def self_signed(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for `localhost` and a server context presenting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
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
