"""The webhook and mail adapters against real servers on 127.0.0.1: receivers that answer without
end, drip their answer or stall, a dual-stack receiver with one side down, untrusted TLS, and mail
servers with and without TLS and login. Only loopback addresses ever receive traffic."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from local.emulators import free_port
from local.webhook_receiver import WebhookReceiver
from shared.adapters.smtp_mail import SmtpMailer
from shared.adapters.webhooks import HttpWebhookSender
from shared.domain.notifications import SIGNATURE_HEADER, sign
from shared.errors import DeliveryError
from tests.support import self_signed_certificate

SECRET = "whsec_test_0123456789abcdef"
BODY = b'{"id":"evt_test"}'


# --- raw receivers -------------------------------------------------------------------------
class RawServer:
    """Accepts connections on 127.0.0.1 and hands each to `serve(conn)` in a thread of its own."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self.closed = threading.Event()  # set once the test is over: servers stop sending
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client went away
            self._serve(conn)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.closed.set()
        self._listener.close()


def read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


@pytest.fixture()
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    started: list[RawServer] = []

    def start(serve: Callable[[socket.socket], None]) -> RawServer:
        started.append(RawServer(serve))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_an_endless_answer_is_read_only_up_to_its_limit(raw_server: Any) -> None:
    """A 2xx whose body never ends is still a delivery: the sender reads a bounded prefix and
    hangs up. Reading it all would run into the deadline instead."""

    def endless(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10000000000\r\n\r\n")
        chunk = b"x" * 16384
        while not server.closed.is_set():
            conn.sendall(chunk)
            time.sleep(0.005)  # about 3 MB/s: what reading it all would amount to stays small

    server = raw_server(endless)
    HttpWebhookSender(True, 3).post(server.url(), BODY, {})
    assert server.connections == 1


def test_a_receiver_that_drips_its_answer_runs_into_the_attempts_deadline(raw_server: Any) -> None:
    """Each byte comes well within any socket timeout, so only a deadline on the whole attempt
    ends it; without one the attempt would end when the receiver chose (here: a 200)."""

    def drip(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        for _ in range(150):  # 30 s at most
            if server.closed.is_set():
                return
            conn.sendall(b"a")
            time.sleep(0.2)
        conn.sendall(b"\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(drip)
    with pytest.raises(DeliveryError, match="deadline") as failed:
        HttpWebhookSender(True, 1).post(server.url(), BODY, {})
    assert not failed.value.permanent


def test_a_receiver_that_accepts_and_stalls_runs_into_the_deadline(raw_server: Any) -> None:
    def stall(conn: socket.socket) -> None:
        read_request(conn)
        server.closed.wait(30)

    server = raw_server(stall)
    with pytest.raises(DeliveryError, match="deadline"):
        HttpWebhookSender(True, 1).post(server.url(), BODY, {})


def test_a_dual_stack_receiver_is_reached_on_its_next_address_when_the_first_refuses() -> None:
    receiver = WebhookReceiver(SECRET).start()
    lookups: list[str] = []

    def dual_stack(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.2", "127.0.0.1"]  # nothing listens on 127.0.0.2 at the receiver's port

    try:
        HttpWebhookSender(True, 5, resolver=dual_stack).post(
            f"http://hooks.test:{receiver.port}/hooks/synq",
            BODY,
            {"X-Synq-Event-Id": "evt_test", SIGNATURE_HEADER: sign(SECRET, BODY, int(time.time()))},
        )
    finally:
        receiver.stop()
    assert receiver.event_ids == ["evt_test"] and len(receiver.events) == 1  # once, on the second address
    assert lookups == ["hooks.test"]  # resolved once, never again


def test_when_no_address_answers_the_attempt_fails_and_will_be_retried() -> None:
    port = free_port()
    sender = HttpWebhookSender(True, 5, resolver=lambda _h, _p: ["127.0.0.2", "127.0.0.3"])
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.2: .*127\.0\.0\.3: ") as failed:
        sender.post(f"http://hooks.test:{port}/x", BODY, {})
    assert not failed.value.permanent


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1"])
def test_the_resolved_addresses_are_checked_before_anything_connects(raw_server: Any, address: str) -> None:
    # Loopback only, so that even with the check broken nothing leaves the machine. That one
    # non-public answer among public ones is enough to refuse is shown by the domain's tests.
    server = raw_server(read_request)
    sender = HttpWebhookSender(False, 5, resolver=lambda _h, _p: [address])
    with pytest.raises(DeliveryError, match="non-public") as refused:
        sender.post(f"https://hooks.test:{server.port}/x", BODY, {})
    assert refused.value.permanent and server.connections == 0


@pytest.mark.parametrize("url", ["http://[::1:9/x", "http://a..example.com/x", "http://hooks.test:99999/x"])
def test_a_stored_url_that_cannot_be_parsed_fails_for_good_without_crashing(url: str) -> None:
    with pytest.raises(DeliveryError) as failed:
        HttpWebhookSender(True, 5, resolver=lambda _h, _p: ["127.0.0.1"]).post(url, BODY, {})
    assert failed.value.permanent


# --- TLS -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with the self-signed certificate, and a client context that trusts it."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"), "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_an_https_receiver_whose_certificate_is_not_trusted_is_a_failed_attempt(
    raw_server: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    def tls_then_200(conn: socket.socket) -> None:
        with tls[0].wrap_socket(conn, server_side=True) as secure:
            read_request(secure)
            secure.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(tls_then_200)
    sender = HttpWebhookSender(True, 5, resolver=lambda _h, _p: ["127.0.0.1"])
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        sender.post(f"https://localhost:{server.port}/x", BODY, {})


# --- mail ----------------------------------------------------------------------------------
class Recorder:
    """An aiosmtpd handler and authenticator that keep what they saw."""

    def __init__(self) -> None:
        self.logins: list[tuple[str, bool]] = []  # (password, over TLS)
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.password.decode(), server.transport.get_extra_info("ssl_object") is not None))
        return AuthResult(success=True)


@pytest.fixture()
def smtp_server() -> Iterator[Callable[..., tuple[Recorder, int]]]:
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> tuple[Recorder, int]:
        recorder, port = Recorder(), free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, authenticator=recorder.authenticate, **kwargs
        )
        controller.start()
        controllers.append(controller)
        return recorder, port

    yield start
    for controller in controllers:
        controller.stop()


def send(mailer: SmtpMailer) -> None:
    mailer.send(["ops@example.com"], "Export ready", "hello\n", "<evt_test@synq-pim>")


def test_credentials_are_never_sent_without_tls(smtp_server: Any) -> None:
    # This server would take a login in clear; the mailer must not offer one.
    recorder, port = smtp_server(auth_require_tls=False)
    mailer = SmtpMailer("127.0.0.1", port, "pim@example.com", username="pim", password="s3cret-pw")
    with pytest.raises(DeliveryError, match="SMTP_STARTTLS") as refused:
        send(mailer)
    assert refused.value.permanent
    assert recorder.logins == [] and recorder.messages == []


def test_starttls_is_required_when_asked_for_and_missing(smtp_server: Any) -> None:
    recorder, port = smtp_server(auth_require_tls=False)  # offers no STARTTLS
    mailer = SmtpMailer("127.0.0.1", port, "pim@example.com", username="pim", password="s3cret-pw", starttls=True)
    with pytest.raises(DeliveryError, match="STARTTLS") as refused:
        send(mailer)
    assert refused.value.permanent and recorder.logins == [] and recorder.messages == []


def test_starttls_with_a_verified_certificate_carries_the_login_and_the_mail(
    smtp_server: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    recorder, port = smtp_server(tls_context=tls[0], require_starttls=True)
    mailer = SmtpMailer(
        "127.0.0.1", port, "pim@example.com", username="pim", password="s3cret-pw", starttls=True, tls_context=tls[1]
    )
    send(mailer)
    assert recorder.logins == [("s3cret-pw", True)] and len(recorder.messages) == 1


def test_implicit_tls_carries_the_login_and_the_mail(
    smtp_server: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    recorder, port = smtp_server(ssl_context=tls[0], auth_require_tls=False)  # aiosmtpd: TLS from the start
    mailer = SmtpMailer(
        "127.0.0.1", port, "pim@example.com", username="pim", password="s3cret-pw", implicit_tls=True,
        tls_context=tls[1],
    )  # fmt: skip
    send(mailer)
    assert recorder.logins == [("s3cret-pw", True)] and len(recorder.messages) == 1


def test_a_mail_server_whose_certificate_is_not_trusted_never_sees_the_password(
    smtp_server: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    recorder, port = smtp_server(tls_context=tls[0], require_starttls=True)
    mailer = SmtpMailer("127.0.0.1", port, "pim@example.com", username="pim", password="s3cret-pw", starttls=True)
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        send(mailer)
    assert recorder.logins == [] and recorder.messages == []


def test_a_local_server_without_credentials_takes_mail_in_clear(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    send(SmtpMailer("127.0.0.1", port, "pim@example.com"))
    assert recorder.logins == [] and len(recorder.messages) == 1
