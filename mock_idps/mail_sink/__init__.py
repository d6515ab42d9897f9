"""A local SMTP mail sink for `make demo` and the tests: it accepts every message on 127.0.0.1,
keeps the last ones in memory and shows them on a page and as JSON, so the broker's e-mail codes
can be read without a real mail server. Like the other mocks it imports nothing from `broker`.

In process (tests): `with MailSink() as sink: ... sink.messages(to="maija@hus.fi")`.
As a program: `python -m mock_idps.mail_sink --smtp-port 8025 --http-port 8006`.
"""

from mock_idps.mail_sink.app import create_app
from mock_idps.mail_sink.messages import Message, MessageStore
from mock_idps.mail_sink.sink import MailSink

__all__ = ["MailSink", "Message", "MessageStore", "create_app"]
