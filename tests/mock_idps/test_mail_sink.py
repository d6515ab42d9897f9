"""The demo mail sink, fed real mail over SMTP (smtplib, and aiosmtplib as the broker sends it) and
read back through its Python API, its JSON and its page, served by uvicorn on a free port."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from mock_idps.mail_sink import MailSink, create_app
from tests.servers import bound_socket, serve

FROM = "sote-broker@localhost"
SUBJECT = "Vahvistuskoodi ä ö"
BODY = "Vahvistuskoodisi on 123456.\nSe on voimassa 15 minuuttia. Åbo, Škoda.\n"
NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def mail(
    to: str,
    subject: str = SUBJECT,
    body: str = BODY,
    bcc: str | None = None,
    cte: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = to
    if bcc:
        message["Bcc"] = bcc
    message["Subject"] = subject
    message.set_content(body, cte=cte)  # UTF-8; the subject in RFC 2047 encoded words
    return message


def send(sink: MailSink, message: EmailMessage) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
        smtp.send_message(message)


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink(clock=lambda: NOON) as running:
        yield running


@pytest.fixture
def web(sink: MailSink) -> Iterator[str]:
    with serve(create_app(sink.store), bound_socket()) as url:
        yield url


@pytest.mark.parametrize("cte", ["8bit", "quoted-printable", "base64"])
def test_a_finnish_message_is_read_back_decoded(sink: MailSink, cte: str) -> None:
    send(sink, mail("maija@hus.fi", cte=cte))

    [message] = sink.messages(to="maija@hus.fi")
    assert message.sender == FROM
    assert message.recipients == ("maija@hus.fi",)
    assert message.subject == SUBJECT
    assert message.text == BODY
    assert message.received_at == NOON
    assert message.email()["Subject"] == SUBJECT
    assert b"Subject: Vahvistuskoodi =?utf-8?b?" in message.raw  # RFC 2047 on the wire
    assert f"Content-Transfer-Encoding: {cte}".encode() in message.raw


async def test_aiosmtplib_as_the_broker_sends(sink: MailSink) -> None:
    """The sink runs its own loop, so an async test's loop can await the send."""
    await aiosmtplib.send(mail("pekka@pshva.fi"), hostname=sink.host, port=sink.port, timeout=5)

    [message] = sink.wait_for("pekka@pshva.fi")
    assert (message.subject, message.text) == (SUBJECT, BODY)


def test_an_internationalised_address_over_smtputf8(sink: MailSink) -> None:
    send(sink, mail("äiti@esimerkki.fi"))

    assert [m.recipients for m in sink.messages("äiti@esimerkki.fi")] == [("äiti@esimerkki.fi",)]


def test_to_filters_by_envelope_recipient_ignoring_case(sink: MailSink) -> None:
    send(sink, mail("maija@hus.fi", subject="first", bcc="Valvoja@HUS.fi"))
    send(sink, mail("pekka@pshva.fi", subject="second"))

    assert [m.subject for m in sink.messages()] == ["first", "second"]
    assert [m.subject for m in sink.messages(to="valvoja@hus.fi")] == ["first"]
    assert [m.subject for m in sink.messages(to="MAIJA@hus.fi")] == ["first"]
    assert sink.messages(to="nobody@hus.fi") == []
    sink.clear()
    assert sink.messages() == []


def test_only_the_newest_are_kept() -> None:
    with MailSink(max_messages=3) as small:
        for n in range(5):
            send(small, mail("maija@hus.fi", subject=f"code {n}"))
        assert [m.subject for m in small.messages()] == ["code 2", "code 3", "code 4"]


def test_wait_for_gives_up_after_its_timeout(sink: MailSink) -> None:
    with pytest.raises(TimeoutError):
        sink.wait_for("maija@hus.fi", timeout=0.1)


def test_stop_closes_the_port() -> None:
    sink = MailSink()
    sink.start()
    port = sink.port
    sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)


def test_json_newest_first_filtered_and_cleared(sink: MailSink, web: str) -> None:
    send(sink, mail("maija@hus.fi", subject="first"))
    send(sink, mail("pekka@pshva.fi"))

    everything = httpx.get(f"{web}/messages").json()["messages"]
    assert [m["subject"] for m in everything] == [SUBJECT, "first"]
    assert everything[0] == {
        "sender": FROM,
        "recipients": ["pekka@pshva.fi"],
        "subject": SUBJECT,
        "text": BODY,
        "received_at": "2025-03-01T12:00:00+00:00",
    }
    to_maija = httpx.get(f"{web}/messages", params={"to": "maija@hus.fi"}).json()["messages"]
    assert [m["subject"] for m in to_maija] == ["first"]

    assert httpx.delete(f"{web}/messages").status_code == 204
    assert httpx.get(f"{web}/messages").json() == {"messages": []}
    assert sink.messages() == []


def test_the_page_shows_messages_newest_first_and_escaped(sink: MailSink, web: str) -> None:
    send(sink, mail("maija@hus.fi", subject="older"))
    send(sink, mail("pekka@pshva.fi", subject="<script>alert(1)</script>", body="<b>&</b>\n"))

    page = httpx.get(f"{web}/")
    assert page.status_code == 200
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    html = page.text
    assert "Demo mail sink" in html and "DEMO MAIL SINK" in html
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html
    assert html.index("pekka@pshva.fi") < html.index("maija@hus.fi")
    assert "2025-03-01 12:00:00 UTC" in html


def test_the_page_decodes_finnish(sink: MailSink, web: str) -> None:
    send(sink, mail("maija@hus.fi"))

    html = httpx.get(f"{web}/").text
    assert SUBJECT in html and "Vahvistuskoodisi on 123456." in html


def free_port() -> int:
    with bound_socket() as sock:
        return int(sock.getsockname()[1])


def test_the_command_line_serves_smtp_and_http() -> None:
    smtp_port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "mock_idps.mail_sink"]
    ports = ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    process = subprocess.Popen([*command, *ports], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/healthz").raise_for_status()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr and process.stderr.read()
                assert time.monotonic() < deadline, "the mail sink did not start"
                time.sleep(0.1)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
            smtp.send_message(mail("maija@hus.fi"))
        [message] = httpx.get(f"http://127.0.0.1:{http_port}/messages").json()["messages"]
        assert (message["subject"], message["text"]) == (SUBJECT, BODY)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    # uvicorn raises the signal it caught again once it has shut down
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert b"Application shutdown complete" in stderr
