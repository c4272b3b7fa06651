"""A local mail server for the stack and the tests: SMTP on 127.0.0.1, every message kept in a
Maildir (`.local/mail` for `make run`).

`python -m local.mail` prints the messages received so far, newest last.
"""

from __future__ import annotations

import mailbox
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from local.emulators import free_port
from local.tokens import STATE_DIR

MAIL_DIR = STATE_DIR / "mail"


class LocalMailServer:
    def __init__(self, mail_dir: Path = MAIL_DIR, port: int | None = None) -> None:
        self.mail_dir = mail_dir
        self.port = port or free_port()
        for sub in ("cur", "new", "tmp"):  # Maildir makes these only for a directory it creates
            (mail_dir / sub).mkdir(parents=True, exist_ok=True)
        self._controller = Controller(Mailbox(mail_dir), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false"}  # plain, local

    def messages(self) -> list[Message]:
        return read(self.mail_dir)


def read(mail_dir: Path) -> list[Message]:
    box = mailbox.Maildir(mail_dir, create=False)
    return sorted((box.get_message(key) for key in box.iterkeys()), key=lambda m: m.get_date())  # type: ignore[attr-defined]


def main() -> None:
    for message in read(MAIL_DIR):
        print(f"--- {message['Date']}  To: {message['To']}  Subject: {message['Subject']}")
        payload = message.get_payload(decode=True)
        print(payload.decode() if isinstance(payload, bytes) else payload)


if __name__ == "__main__":
    main()
