"""The received messages: parsed once on arrival, kept newest last in a bounded buffer.

The buffer is shared by the SMTP server and the web page, which may run in different threads (a
test's sink runs its own event loop), hence the lock.
"""

from __future__ import annotations

import email
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from typing import Any

DEFAULT_MAX_MESSAGES = 200


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Message:
    """One message as delivered: the SMTP envelope's sender and recipients (what a real server
    routes by, Bcc included), the decoded subject and plain-text body, and the raw bytes."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    received_at: datetime
    raw: bytes = field(repr=False)

    def email(self) -> EmailMessage:
        """The whole message parsed again, for tests that look at headers or other parts."""
        return email.message_from_bytes(self.raw, policy=default)

    def is_to(self, address: str) -> bool:
        """Case-insensitive: mail systems treat at least the domain so, and tests should not
        depend on how an address was typed."""
        wanted = address.strip().casefold()
        return any(r.casefold() == wanted for r in self.recipients)

    def to_json(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "text": self.text,
            "received_at": self.received_at.isoformat(),
        }


def parse_message(
    sender: str, recipients: Iterable[str], raw: bytes, received_at: datetime
) -> Message:
    """Decode headers (RFC 2047) and the body's charset and transfer encoding, and turn the
    wire's CRLF line ends into "\n"; a message without a plain-text part shows its HTML part."""
    parsed = email.message_from_bytes(raw, policy=default)
    body = parsed.get_body(("plain", "html"))
    text = body.get_content() if body is not None else ""
    return Message(
        sender=sender,
        recipients=tuple(recipients),
        subject=str(parsed.get("Subject", "")),
        text=str(text).replace("\r\n", "\n"),
        received_at=received_at,
        raw=raw,
    )


class MessageStore:
    """The last `max_messages` messages; older ones are dropped, so a long demo cannot fill
    memory."""

    def __init__(
        self,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._messages: deque[Message] = deque(maxlen=max_messages)
        self._changed = threading.Condition()
        self.clock = clock

    def add(self, sender: str, recipients: Iterable[str], raw: bytes) -> Message:
        message = parse_message(sender, recipients, raw, self.clock())
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()
        return message

    def messages(self, to: str | None = None) -> list[Message]:
        """Oldest first; only those to `to` when given."""
        with self._changed:
            found = list(self._messages)
        return [m for m in found if to is None or m.is_to(to)]

    def wait_for(self, to: str, timeout: float = 5.0, count: int = 1) -> list[Message]:
        """Block until at least `count` messages to `to` have arrived (mail sent by a server in
        another thread may land a moment after the request that caused it); TimeoutError if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages(to)) >= count, timeout):
                raise TimeoutError(f"no {count} message(s) to {to} within {timeout} s")
        return self.messages(to)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
