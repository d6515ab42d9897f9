"""Sending mail over SMTP (aiosmtplib), for the one-time codes of e-mail confirmation.

The sender is an interface of one method, so the journey does not care how mail leaves; the one
implementation speaks SMTP to the server of `settings.smtp` (STARTTLS, implicit TLS, or plain to
a local relay). A failure to hand the message over is a MailError; the message's text, which
holds a code, is never logged.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib

from broker.errors import MailError
from broker.settings import SMTPSettings

__all__ = ["MailError", "MailSender", "SMTPMailSender"]

log = logging.getLogger(__name__)


class MailSender(Protocol):
    async def send(self, to: str, subject: str, body: str, *, language: str) -> None: ...


class SMTPMailSender:
    def __init__(self, settings: SMTPSettings) -> None:
        self._settings = settings
        self._password: str | None = None
        if settings.password_file is not None:
            self._password = settings.password_file.read_text(encoding="utf-8").strip()

    async def send(self, to: str, subject: str, body: str, *, language: str) -> None:
        smtp = self._settings
        message = EmailMessage()
        message["From"] = smtp.from_address
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=smtp.from_address.rpartition("@")[2] or None)
        message.set_content(body)
        message["Content-Language"] = language  # after set_content, which drops Content-*
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=self._password,
                use_tls=smtp.security == "tls",
                start_tls=smtp.security == "starttls",
                timeout=smtp.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}") from exc
        log.info("mail handed to the SMTP server", extra={"smtp_host": smtp.host})
