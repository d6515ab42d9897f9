"""The end of every login: an SSO session, the audit record, and the code to the portal (or,
for a login for the account pages, the page it was for)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broker import paths
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.audit_trail import AuditTrail
from broker.journey.login_state import state_of
from broker.journey.registration import AccountStage, PendingLogin, account_claims
from broker.journey.transactions import LoginTransactions
from broker.store.accounts import AccountRecord
from broker.store.records import SessionRecord, TransactionRecord, UpstreamSession

ACCOUNT_PAGES = frozenset({paths.ACCOUNT, paths.ACCOUNT_DELETE})
"""Where a login for the account pages may return to."""


@dataclass(frozen=True)
class Redirect:
    """Where the browser goes next, and which cookies the HTTP layer must set on the way."""

    url: str
    tx_id: str | None = None
    session: SessionRecord | None = None
    remember_idp: str | None = None


class LoginCompletion:
    def __init__(
        self,
        provider: OIDCProvider,
        transactions: LoginTransactions,
        accounts: AccountStage,
        audit: AuditTrail,
    ) -> None:
        self._provider = provider
        self._transactions = transactions
        self._accounts = accounts
        self._audit = audit

    async def finish_account(
        self, tx: TransactionRecord, account: AccountRecord, pending: PendingLogin
    ) -> Redirect:
        """The account's id is the local subject; portals see their own pairwise `sub` of it."""
        claims = {**pending.claims, **account_claims(account, self._accounts.catalogue)}
        return await self.finish(
            tx,
            account.account_id,
            claims,
            acr=pending.acr,
            amr=pending.amr,
            upstream=pending.upstream,
            auth_time=pending.auth_time,
        )

    async def finish(
        self,
        tx: TransactionRecord,
        sub: str,
        claims: Mapping[str, Any],
        *,
        acr: str | None,
        amr: tuple[str, ...],
        upstream: UpstreamSession | None = None,
        auth_time: float | None = None,
    ) -> Redirect:
        request = await self._transactions.finish(tx)
        session = await self._provider.sessions.start(
            sub, acr=acr, amr=amr, claims=claims, upstream=upstream, auth_time=auth_time
        )
        await self._audit.login_completed(tx, sub, acr)
        state = state_of(tx)
        if state.purpose == "account":
            then = state.then
            return Redirect(then if then in ACCOUNT_PAGES else paths.ACCOUNT, session=session)
        url = await self._provider.complete(request, session)
        return Redirect(url, session=session)
