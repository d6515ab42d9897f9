"""One real SMTP server (aiosmtpd on a free 127.0.0.1 port) per test process, which every broker
started by the tests sends its e-mail codes to; tests read the codes back from it."""

from __future__ import annotations

import atexit
import email
import re
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any, cast

from aiosmtpd.controller import Controller

from tests.servers import bound_socket


@dataclass
class MailSink:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        with self.lock:
            self.messages.append(cast(EmailMessage, message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_code(self, address: str) -> str:
        """The code of the newest message to `address`."""
        sent = self.to(address)
        assert sent, f"no mail to {address}"
        body = sent[-1].get_body(("plain",))
        assert body is not None
        codes = re.findall(r"\b\d{6}\b", body.get_content())
        assert codes, body.get_content()
        return str(codes[0])


_SINK: MailSink | None = None


def mail_sink() -> MailSink:
    """The process's sink, started on first use."""
    global _SINK
    if _SINK is None:
        sock = bound_socket()
        port = sock.getsockname()[1]
        sock.close()
        sink = MailSink(port)
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        atexit.register(controller.stop)
        _SINK = sink
    return _SINK
