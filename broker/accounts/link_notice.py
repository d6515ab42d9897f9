"""The e-mail that tells a person a new login route was linked to their account: which route
or organisation, and when, in the language they registered in. If it was not them, the mail is
how they find out (someone else logged in with their credentials, or with their identity code).

The mail names the route by its display name and carries no identity code, no subject and no
link to follow. It goes after the link is stored and audited; a mail that cannot be sent is
logged (the link stands, and the audit trail has it), never a failed login.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broker.accounts.mail import MailSender
from broker.errors import MailError
from broker.store.accounts import AccountRecord

__all__ = ["ComposeLinkMail", "LinkNotices", "local_time"]

log = logging.getLogger(__name__)

ComposeLinkMail = Callable[[str, str, str], tuple[str, str]]
"""(idp_id, language, local time) -> (subject, body), in that language."""


class LinkNotices:
    def __init__(self, sender: MailSender, compose: ComposeLinkMail) -> None:
        self._sender = sender
        self._compose = compose

    async def send(self, account: AccountRecord, idp_id: str, at: float) -> None:
        subject, body = self._compose(idp_id, account.language, local_time(at))
        try:
            await self._sender.send(account.email, subject, body, language=account.language)
        except MailError as exc:
            log.warning("link notice not sent: %s", exc, extra={"idp": idp_id})


def _helsinki() -> tzinfo:
    try:
        return ZoneInfo("Europe/Helsinki")
    except ZoneInfoNotFoundError:  # no time zone data on this host: say UTC, not a wrong hour
        return UTC


def local_time(at: float) -> str:
    """`at` as Finnish time, e.g. `4.12.2026 22.15`, the way the person reads a clock."""
    moment = datetime.fromtimestamp(at, _helsinki())
    suffix = "" if moment.utcoffset() else " UTC"
    return f"{moment.day}.{moment.month}.{moment.year} {moment:%H.%M}{suffix}"
