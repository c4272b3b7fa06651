"""Email over SMTP, with STARTTLS and login when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from shared.errors import DeliveryError


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
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout_seconds

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
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the mail server refused every recipient: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail not sent: {type(exc).__name__}: {exc}") from exc
