"""Email over SMTP: plain for a local server, TLS (STARTTLS, or implicit on port 465) with login
when configured.

A password is only ever sent over TLS whose certificate was verified: with credentials set, the
connection is checked to be TLS right before logging in, and the send is refused (for good) when
it is not. smtplib's own default for STARTTLS does not verify the certificate, so a verifying
context is always passed.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from shared.errors import DeliveryError

log = logging.getLogger(__name__)

IMPLICIT_TLS_PORT = 465
CLEAR_TEXT_LOGIN = (
    "SMTP credentials are set but the connection is not encrypted: set SMTP_STARTTLS or use port 465 (implicit TLS)"
)


class SmtpMailer:
    """Implements Mailer."""

    def __init__(
        self,
        host: str | None,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_seconds: float = 30,
        implicit_tls: bool | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout_seconds
        self._implicit_tls = port == IMPLICIT_TLS_PORT if implicit_tls is None else implicit_tls
        self._tls_context = tls_context  # None: the system's trusted certificates

    def send(self, to: list[str], subject: str, text: str, message_id: str) -> None:
        if not self._host:
            raise DeliveryError("no mail server is configured (SMTP_HOST)", permanent=True)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id  # the same on every attempt, so mail clients can dedupe
        message.set_content(text)
        try:
            smtp = (
                smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=self._context())
                if self._implicit_tls
                else smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            )
            with smtp:
                if self._starttls and not self._implicit_tls:
                    smtp.starttls(context=self._context())  # refuses if the server does not offer it
                if self._username or self._password:
                    # Checked on the connection itself, whatever the configuration says.
                    if not isinstance(smtp.sock, ssl.SSLSocket):
                        log.error("mail not sent: %s", CLEAR_TEXT_LOGIN)
                        raise DeliveryError(CLEAR_TEXT_LOGIN, permanent=True)
                    if self._username:
                        smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the mail server refused every recipient: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # The server lacks STARTTLS (or AUTH): configuration, not a passing failure.
            log.error("mail not sent: %s", exc)
            raise DeliveryError(f"mail not sent: the mail server does not support it: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail not sent: {type(exc).__name__}: {exc}") from exc

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()
