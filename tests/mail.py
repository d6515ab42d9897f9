"""One mail sink (mock_idps/mail_sink, a real SMTP server on a free 127.0.0.1 port) per test
process, which every broker started by the tests sends its e-mail codes to."""

from __future__ import annotations

import atexit
import os
import re

from mock_idps.mail_sink import MailSink

_SINK: tuple[int, MailSink] | None = None


def mail_sink() -> MailSink:
    """The process's sink, started on first use; again in a forked child (mutmut's workers are
    forked after a test run), where the parent's server thread does not run: mail sent to it would
    reach the parent, and the child would read a stale code."""
    global _SINK
    if _SINK is None or _SINK[0] != os.getpid():
        sink = MailSink()
        sink.start()
        atexit.register(sink.stop)
        _SINK = (os.getpid(), sink)
    return _SINK[1]


def last_code(address: str) -> str:
    """The code in the newest message to `address`."""
    (message, *_) = reversed(mail_sink().wait_for(address))
    codes = re.findall(r"\b\d{6}\b", message.text)
    assert codes, message.text
    return str(codes[0])
