"""One-time e-mail codes through a real SMTP server (aiosmtpd on a free port) and a real SQLite
store: the code arrives in the person's language, works once, expires, allows five wrong guesses
and five sends per login, is bound to its address, and is never stored or logged in clear."""

from __future__ import annotations

import email
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from broker.accounts import email_codes
from broker.accounts.email_codes import CODE_TTL, MAX_ATTEMPTS, MAX_SENDS, EmailCodes
from broker.accounts.mail import SMTPMailSender
from broker.clock import FrozenClock
from broker.errors import FormInputError, RateLimitedError
from broker.settings import SMTPSettings
from broker.store.sqlite import SQLiteStore
from tests.servers import bound_socket

ADDRESS = "maija.meikalainen@example.fi"
SUBJECTS = {"fi": "Vahvistuskoodi", "sv": "Bekräftelsekod", "en": "Confirmation code"}


@dataclass
class Sink:
    """An SMTP server's handler that keeps what it is given."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def last_code(self) -> str:
        body = self.messages[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        (code,) = re.findall(r"\b\d{6}\b", body.decode())
        return code


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def compose(code: str, language: str) -> tuple[str, str]:
    return SUBJECTS[language], f"{SUBJECTS[language]}: {code}"


@dataclass
class World:
    codes: EmailCodes
    clock: FrozenClock
    store: SQLiteStore
    sink: Sink
    sender_settings: SMTPSettings


@pytest.fixture
async def world(tmp_path: Path, smtp: tuple[Sink, int]) -> AsyncIterator[World]:
    sink, port = smtp
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    clock = FrozenClock(1_800_000_000)
    settings = SMTPSettings(port=port, from_address="tunnistus@example.fi")
    sender = SMTPMailSender(settings)
    codes = EmailCodes(store.accounts, sender, compose, clock, b"k" * 32)
    yield World(codes, clock, store, sink, settings)
    await store.close()


async def refused(world: World, typed: str, tx: str = "tx1", address: str = ADDRESS) -> str:
    with pytest.raises(FormInputError) as error:
        await world.codes.confirm(tx, address, typed)
    assert error.value.field == "code"
    return error.value.reason


async def test_the_code_arrives_in_the_persons_language_and_works_once(world: World) -> None:
    await world.codes.send("tx1", ADDRESS, "sv")
    (message,) = world.sink.messages
    assert (message["To"], message["From"]) == (ADDRESS, "tunnistus@example.fi")
    assert (message["Subject"], message["Content-Language"]) == ("Bekräftelsekod", "sv")
    code = world.sink.last_code()
    await world.codes.confirm("tx1", ADDRESS, f" {code[:3]} {code[3:]} ")  # spaces are fine
    assert await refused(world, code) == "missing"  # used up


async def test_five_wrong_guesses_spend_the_code(world: World) -> None:
    await world.codes.send("tx1", ADDRESS, "fi")
    code = world.sink.last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    reasons = [await refused(world, wrong) for _ in range(MAX_ATTEMPTS)]
    assert reasons == ["wrong"] * (MAX_ATTEMPTS - 1) + ["exhausted"]
    assert await refused(world, code) == "exhausted"
    assert await refused(world, "12a456") == "wrong" and await refused(world, "") == "missing"


async def test_an_expired_code_or_another_address_is_refused(world: World) -> None:
    await world.codes.send("tx1", ADDRESS, "fi")
    code = world.sink.last_code()
    assert await refused(world, code, address="someone.else@example.fi") == "missing"
    assert await refused(world, code, tx="tx2") == "missing"
    world.clock.advance(CODE_TTL)
    assert await refused(world, code) == "expired"


async def test_a_new_code_replaces_the_old_and_sends_are_limited(world: World) -> None:
    await world.codes.send("tx1", ADDRESS, "fi")
    first = world.sink.last_code()
    for _ in range(MAX_SENDS - 1):
        await world.codes.send("tx1", ADDRESS, "fi")
    with pytest.raises(FormInputError) as too_many:
        await world.codes.send("tx1", ADDRESS, "fi")
    assert (too_many.value.field, too_many.value.reason) == ("email", "too_many_codes")
    assert len(world.sink.messages) == MAX_SENDS
    latest = world.sink.last_code()
    if first != latest:
        assert await refused(world, first) == "wrong"
    await world.codes.confirm("tx1", ADDRESS, latest)


async def test_an_unreachable_smtp_server_is_a_field_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    sock = bound_socket()  # bound, never listening: connections are refused
    try:
        sender = SMTPMailSender(SMTPSettings(port=sock.getsockname()[1], timeout_seconds=2))
        codes = EmailCodes(store.accounts, sender, compose, FrozenClock(), b"k" * 32)
        with pytest.raises(FormInputError) as error:
            await codes.send("tx1", ADDRESS, "en")
        assert (error.value.field, error.value.reason) == ("email", "not_sent")
    finally:
        sock.close()
        await store.close()


async def test_no_code_is_stored_or_logged_in_clear(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await world.codes.send("tx1", ADDRESS, "fi")
    code = world.sink.last_code()
    await refused(world, "000000" if code != "000000" else "111111")
    await world.codes.confirm("tx1", ADDRESS, code)
    rows = await world.store.connection.all("SELECT * FROM email_codes")
    assert code not in str([tuple(row) for row in rows])
    # the test's own SMTP server ("mail.log") logs what it receives; nothing of the broker does
    assert not [r for r in caplog.records if r.name != "mail.log" and code in r.getMessage()]


async def test_a_code_is_six_digits_stored_as_its_keyed_hash_until_its_expiry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code drawn from a million (zero-padded), only its HMAC under the code's own purpose
    label stored, with the expiry CODE_TTL from now."""
    bounds: list[int] = []

    def drawn(bound: int) -> int:
        bounds.append(bound)
        return 42

    monkeypatch.setattr(email_codes.secrets, "randbelow", drawn)
    await world.codes.send("tx1", ADDRESS, "en")
    assert bounds == [1_000_000]
    assert world.sink.last_code() == "000042"
    (row,) = await world.store.connection.all("SELECT * FROM email_codes")
    expected = hmac.new(b"k" * 32, b"email-code\x00000042", hashlib.sha256).hexdigest()
    assert (row["tx_id"], row["email"], row["code_hash"]) == ("tx1", ADDRESS, expected)
    assert row["expires_at"] == 1_800_000_000 + CODE_TTL == 1_800_000_600
    world.clock.advance(CODE_TTL - 1)
    await world.codes.confirm("tx1", ADDRESS, "0 0 0 0 4 2")


@pytest.mark.parametrize("typed", ["12345", "1234567", "12345x", "abcdef"])
async def test_only_six_ascii_digits_are_tried(world: World, typed: str) -> None:
    await world.codes.send("tx1", ADDRESS, "fi")
    code = world.sink.last_code()
    for _ in range(MAX_ATTEMPTS):
        assert await refused(world, typed) == "wrong"
    await world.codes.confirm("tx1", ADDRESS, code)  # the refusals above spent no attempt
    assert await refused(world, "   ") == "missing"


async def test_the_address_throttle_refuses_before_anything_is_sent(world: World) -> None:
    asked: list[str] = []

    async def throttle(address: str) -> None:
        asked.append(address)
        if len(asked) > 1:
            raise RateLimitedError("too many codes for this address", 60)

    codes = EmailCodes(
        world.store.accounts, SMTPMailSender(world.sender_settings), compose, world.clock,
        b"k" * 32, throttle=throttle,
    )  # fmt: skip
    await codes.send("tx1", ADDRESS, "fi")
    with pytest.raises(FormInputError) as too_many:
        await codes.send("tx2", ADDRESS, "fi")
    assert (too_many.value.field, too_many.value.reason) == ("email", "too_many_codes")
    assert asked == [ADDRESS, ADDRESS]
    assert len(world.sink.messages) == 1
    assert len(await world.store.connection.all("SELECT * FROM email_codes")) == 1


async def test_a_code_not_sent_is_logged_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    sock = bound_socket()
    port = sock.getsockname()[1]
    try:
        sender = SMTPMailSender(SMTPSettings(port=port))
        codes = EmailCodes(store.accounts, sender, compose, FrozenClock(), b"k" * 32)
        with (
            caplog.at_level(logging.WARNING, logger="broker.accounts.email_codes"),
            pytest.raises(FormInputError),
        ):
            await codes.send("tx1", ADDRESS, "en")
    finally:
        sock.close()
        await store.close()
    (record,) = caplog.records
    assert record.getMessage() == (
        f"one-time code not sent: SMTP 127.0.0.1:{port}: SMTPConnectError"
    )
