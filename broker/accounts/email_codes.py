"""One-time codes that prove an e-mail address is the person's, before it goes into their
account: six digits, sent to the address, typed back on the registration page.

A code is bound to the login transaction and to the address it went to; it expires after
`CODE_TTL` seconds, is good once, and allows `MAX_ATTEMPTS` wrong guesses before it is spent,
and a transaction may ask for `MAX_SENDS` codes at most: a guesser gets at most 25 tries at a
million codes. An optional throttle bounds the codes one address gets across every login (the
broker's: `limits.email_codes_per_address`), so nobody can flood a mailbox with them. Only an
HMAC of the code (with the broker's subject key and its own purpose label) is stored, so a copy
of the database does not give the codes away either.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

from broker.accounts.mail import MailSender
from broker.clock import Clock
from broker.errors import FormInputError, MailError, RateLimitedError
from broker.store.accounts import AccountStore, EmailCodeRecord

__all__ = ["CODE_TTL", "MAX_ATTEMPTS", "MAX_SENDS", "ComposeMail", "EmailCodes", "Throttle"]

log = logging.getLogger(__name__)

CODE_DIGITS: Final = 6
CODE_TTL: Final = 600.0
MAX_ATTEMPTS: Final = 5
MAX_SENDS: Final = 5

ComposeMail = Callable[[str, str], tuple[str, str]]
"""(code, language) -> (subject, body), in the person's language."""

Throttle = Callable[[str], Awaitable[None]]
"""Counts a code for an address; RateLimitedError when the address has had too many."""


class EmailCodes:
    def __init__(
        self,
        store: AccountStore,
        sender: MailSender,
        compose: ComposeMail,
        clock: Clock,
        key: bytes,
        *,
        throttle: Throttle | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._compose = compose
        self._clock = clock
        self._key = key
        self._throttle = throttle

    async def send(self, tx_id: str, email: str, language: str) -> None:
        """A fresh code to `email` (which the caller has normalised). FormInputError
        `email.too_many_codes` after MAX_SENDS or the address's throttle, `email.not_sent` when
        the mail cannot go out."""
        if self._throttle is not None:
            try:
                await self._throttle(email)
            except RateLimitedError as exc:
                raise FormInputError("email", "too_many_codes") from exc
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        record = EmailCodeRecord(tx_id, email, self._hash(code), self._clock.now() + CODE_TTL)
        if not await self._store.put_email_code(record, MAX_SENDS):
            raise FormInputError("email", "too_many_codes")
        subject, body = self._compose(code, language)
        try:
            await self._sender.send(email, subject, body, language=language)
        except MailError as exc:
            log.warning("one-time code not sent: %s", exc)
            raise FormInputError("email", "not_sent") from exc

    async def confirm(self, tx_id: str, email: str, typed: str) -> None:
        """Nothing if `typed` is the code sent to `email` in this transaction (then it is used
        up); FormInputError `code.<missing|wrong|expired|exhausted>` otherwise."""
        cleaned = "".join(typed.split())
        if not cleaned:
            raise FormInputError("code", "missing")
        if len(cleaned) != CODE_DIGITS or not cleaned.isdigit():
            raise FormInputError("code", "wrong")
        outcome = await self._store.use_email_code(
            tx_id, email, self._hash(cleaned), self._clock.now(), MAX_ATTEMPTS
        )
        if outcome != "ok":
            raise FormInputError("code", outcome)

    def _hash(self, code: str) -> str:
        return hmac.new(self._key, b"email-code\x00" + code.encode(), hashlib.sha256).hexdigest()
