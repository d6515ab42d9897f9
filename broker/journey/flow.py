"""The login journey, top to bottom, as far as it exists before the upstream routes do.

    /authorize ─ validate ─┬─ usable SSO session ───────────────▶ code to the portal
                           ├─ prompt=none, no session ──────────▶ login_required to the portal
                           └─ new transaction ─▶ login page ─▶ session ─▶ code to the portal

The only login page so far is the development login (off unless the settings turn it on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broker.errors import PageError
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.transactions import LoginTransactions
from broker.store.records import SessionRecord, TransactionRecord


class LoginUnavailableError(PageError):
    """No login route is configured for this broker."""

    status_code = 503
    message_id = "error.login_unavailable"


@dataclass(frozen=True)
class Redirect:
    """Where the browser goes next, and which cookies the HTTP layer must set on the way."""

    url: str
    tx_id: str | None = None
    session: SessionRecord | None = None


class LoginJourney:
    def __init__(
        self, provider: OIDCProvider, transactions: LoginTransactions, *, dev_login: bool
    ) -> None:
        self._provider = provider
        self._transactions = transactions
        self._dev_login = dev_login

    async def begin(
        self, params: Mapping[str, str], duplicates: frozenset[str], sid: str | None
    ) -> Redirect:
        request = await self._provider.validate_authorization(params, duplicates)
        session = await self._provider.reusable_session(request, sid)
        if session is not None:
            return Redirect(await self._provider.complete(request, session))
        if not self._dev_login:
            raise LoginUnavailableError("no login route configured")
        tx = await self._transactions.create(request)
        return Redirect("/dev-login", tx_id=tx.tx_id)

    async def current(self, tx_id: str | None) -> TransactionRecord:
        return await self._transactions.load(tx_id)

    async def finish(
        self,
        tx: TransactionRecord,
        sub: str,
        claims: Mapping[str, Any],
        *,
        acr: str | None,
        amr: tuple[str, ...],
    ) -> Redirect:
        request: AuthorizationRequest = await self._transactions.finish(tx)
        session = await self._provider.sessions.start(sub, acr=acr, amr=amr, claims=claims)
        url = await self._provider.complete(request, session)
        return Redirect(url, session=session)
