"""The mail that tells a person a route was linked: in their language, with the local time; a
mail that cannot go out is logged and does not undo or fail the link."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from broker.accounts import link_notice
from broker.accounts.link_notice import LinkNotices, local_time
from broker.errors import MailError
from broker.store.accounts import AccountRecord

ACCOUNT = AccountRecord("a" * 32, "+358401234567", "tessa@example.fi", (), 0.0, 0.0, language="sv")
WINTER, SUMMER = 1_796_000_000.0, 1_782_000_000.0  # 2026-11-30 00:53 and 2026-06-21 00:00 UTC


class Sender:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, str, str, str]] = []

    async def send(self, to: str, subject: str, body: str, *, language: str) -> None:
        if self.fail:
            raise MailError("SMTP 127.0.0.1:25: ConnectionRefusedError")
        self.sent.append((to, subject, body, language))


def compose(idp_id: str, language: str, when: str) -> tuple[str, str]:
    return f"{language}: linked", f"{idp_id} at {when}"


def test_the_time_is_finnish_time_winter_and_summer() -> None:
    assert local_time(WINTER) == "30.11.2026 02.53"  # UTC+2
    assert local_time(SUMMER) == "21.6.2026 03.00"  # UTC+3


async def test_the_mail_goes_to_the_account_in_its_language() -> None:
    sender = Sender()
    await LinkNotices(sender, compose).send(ACCOUNT, "hus", WINTER)
    assert sender.sent == [("tessa@example.fi", "sv: linked", "hus at 30.11.2026 02.53", "sv")]


async def test_a_mail_that_cannot_go_out_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        await LinkNotices(Sender(fail=True), compose).send(ACCOUNT, "hus", WINTER)
    assert "link notice not sent" in caplog.text and "tessa@example.fi" not in caplog.text
    (record,) = caplog.records  # what the operator needs: why, and for which route
    assert record.getMessage() == "link notice not sent: SMTP 127.0.0.1:25: ConnectionRefusedError"
    assert (record.levelname, record.__dict__["idp"]) == ("WARNING", "hus")


def test_a_host_without_time_zone_data_says_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rather than a wrong hour: the time in UTC, said so."""

    def missing(key: str) -> ZoneInfo:
        raise ZoneInfoNotFoundError(key)

    monkeypatch.setattr(link_notice, "ZoneInfo", missing)
    assert local_time(WINTER) == "30.11.2026 00.53 UTC"
    assert local_time(SUMMER) == "21.6.2026 00.00 UTC"
