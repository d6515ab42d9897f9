"""The SMTP side: an aiosmtpd server on an already bound socket that accepts every message.

A bound socket rather than a port number, so a test can bind port 0 and know the port before the
server runs, with no window in which another process could take it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mock_idps.mail_sink.messages import MessageStore

log = logging.getLogger("mock_idps.mail_sink")

# The broker's e-mail codes are a few hundred bytes; a cap keeps 200 messages small.
DATA_SIZE_LIMIT = 1024 * 1024


class SinkHandler:
    """aiosmtpd handler: every recipient is accepted and every message is kept."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = self.store.add(envelope.mail_from or "", envelope.rcpt_tos, raw)
        log.info("mail to %s: %s", ", ".join(message.recipients), message.subject)
        return "250 Message accepted"


def bind_smtp_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def start_smtp(store: MessageStore, sock: socket.socket) -> asyncio.Server:
    """Serve SMTP on `sock` in the running loop until the returned server is closed."""
    handler = SinkHandler(store)

    def protocol() -> Any:
        # SMTPUTF8: the broker may send to an internationalised address (RFC 6531).
        return SMTP(
            handler,
            hostname="mail-sink.invalid",
            enable_SMTPUTF8=True,
            data_size_limit=DATA_SIZE_LIMIT,
        )

    return await asyncio.get_running_loop().create_server(protocol, sock=sock)
