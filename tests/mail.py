"""One mail sink (mock_idps/mail_sink, a real SMTP server on a free 127.0.0.1 port) per test
process, which every broker started by the tests sends its e-mail codes to."""

from __future__ import annotations

import atexit
import re

from mock_idps.mail_sink import MailSink

_SINK: MailSink | None = None


def mail_sink() -> MailSink:
    """The process's sink, started on first use."""
    global _SINK
    if _SINK is None:
        _SINK = MailSink()
        _SINK.start()
        atexit.register(_SINK.stop)
    return _SINK


def last_code(address: str) -> str:
    """The code in the newest message to `address`."""
    (message, *_) = reversed(mail_sink().wait_for(address))
    codes = re.findall(r"\b\d{6}\b", message.text)
    assert codes, message.text
    return str(codes[0])
