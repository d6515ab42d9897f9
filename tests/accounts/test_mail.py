"""The SMTP sender against real SMTP servers (aiosmtpd on free ports): the message's headers, the
password from its file, each `security` mode doing what it says (and refusing to go on in plain
text when it cannot), and a server that never answers ending as a MailError after the timeout."""

from __future__ import annotations

import email
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives.asymmetric import ec

from broker.accounts.mail import SMTPMailSender
from broker.errors import MailError
from broker.settings import SMTPSettings
from tests.certificates import self_signed, write_pair
from tests.servers import bound_socket

TO = "maija.meikalainen@example.fi"


class Handler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret pass")


def free_port() -> int:
    sock = bound_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextmanager
def smtp_server(host: str = "127.0.0.1", **options: Any) -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname=host, port=port, **options)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def untrusted_tls(directory: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate that no client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    pair = write_pair(directory, "server", key, self_signed(key, "127.0.0.1"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert_file, pair.key_file)
    return context


async def test_the_message_carries_its_headers_and_body(caplog: pytest.LogCaptureFixture) -> None:
    with smtp_server("127.0.0.2") as (handler, port):  # the host configured, not localhost
        settings = SMTPSettings(host="127.0.0.2", port=port, from_address="tunnistus@hus.example")
        sender = SMTPMailSender(settings)
        with caplog.at_level(logging.INFO, logger="broker.accounts.mail"):
            await sender.send(TO, "Vahvistuskoodi", "Koodisi: 123456", language="fi")
    (message,) = handler.messages
    assert (message["From"], message["To"], message["Subject"]) == (
        "tunnistus@hus.example",
        TO,
        "Vahvistuskoodi",
    )
    assert message["Content-Language"] == "fi"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@hus.example>")
    assert message.get_content().strip() == "Koodisi: 123456"
    (record,) = [r for r in caplog.records if r.name == "broker.accounts.mail"]
    assert record.getMessage() == "mail handed to the SMTP server"
    assert record.__dict__["smtp_host"] == "127.0.0.2"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_the_password_is_read_from_its_file_and_used(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("s3cret pass\n", encoding="utf-8")
    handler = Handler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        auth_required=True,
        authenticator=handler.authenticate,
    )
    controller.start()
    try:
        settings = SMTPSettings(port=port, username="broker", password_file=tmp_path / "password")
        await SMTPMailSender(settings).send(TO, "S", "B", language="sv")
    finally:
        controller.stop()
    assert handler.logins == [(b"broker", b"s3cret pass")]  # the file's line ending dropped
    assert len(handler.messages) == 1


async def test_starttls_and_tls_never_fall_back_to_plain_text(tmp_path: Path) -> None:
    with smtp_server() as (handler, port):  # a server that offers no TLS at all
        for security in ("starttls", "tls"):
            with pytest.raises(MailError) as refused:
                await SMTPMailSender(
                    SMTPSettings(port=port, security=security, timeout_seconds=5)
                ).send(TO, "S", "B", language="fi")
            assert str(refused.value).startswith(f"SMTP 127.0.0.1:{port}: ")
    assert handler.messages == []

    context = untrusted_tls(tmp_path)
    with smtp_server(tls_context=context) as (handler, port):  # STARTTLS, untrusted certificate
        with pytest.raises(MailError):
            await SMTPMailSender(SMTPSettings(port=port, security="starttls")).send(
                TO, "S", "B", language="fi"
            )
        assert handler.messages == []
        # `none` (a local relay) does not take up the offer: the mail goes as configured
        await SMTPMailSender(SMTPSettings(port=port)).send(TO, "S", "B", language="fi")
        assert len(handler.messages) == 1


async def test_a_server_that_never_answers_is_a_mail_error_after_the_timeout() -> None:
    sock = bound_socket()
    sock.listen(1)  # connections are taken into the backlog, and never answered
    try:
        port = sock.getsockname()[1]
        sender = SMTPMailSender(SMTPSettings(port=port, timeout_seconds=0.5))
        with pytest.raises(MailError) as refused:
            await sender.send(TO, "S", "B", language="fi")
        assert str(refused.value) == f"SMTP 127.0.0.1:{port}: SMTPConnectTimeoutError"
    finally:
        sock.close()


async def test_a_refused_connection_names_the_server_not_the_message() -> None:
    sock = bound_socket()  # bound, not listening
    try:
        port = sock.getsockname()[1]
        with pytest.raises(MailError) as refused:
            await SMTPMailSender(SMTPSettings(port=port)).send(TO, "S", "123456", language="fi")
        assert str(refused.value) == f"SMTP 127.0.0.1:{port}: SMTPConnectError"
    finally:
        sock.close()
