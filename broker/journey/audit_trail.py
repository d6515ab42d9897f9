"""What the broker records for audit and for the helpdesk: each completed or failed login (the
authentication audit trail, `sote-broker audit export`) and what happened behind each error id
shown to a person (`sote-broker errors show`).

Neither record holds an identity code, a name or an error's free-text detail: a login is the
account id, portal, route, IdP and acr; a failure's reason comes from the closed set `REASONS`;
an error is its class, its message id and the path without the query (scrubbed and cut short:
a 404's path is whatever someone typed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from broker.clock import Clock
from broker.errors import (
    AccountLinkError,
    BrokerError,
    LinkAssuranceError,
    LoginElsewhereError,
    LoginRequiredError,
    OAuthError,
    TransactionError,
    UpstreamDeniedError,
    UpstreamLoginRequiredError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.journey.login_state import state_of
from broker.logs import scrub
from broker.request_context import current, login_ref
from broker.store.base import Store
from broker.store.error_events import ErrorEvent
from broker.store.login_events import LoginEvent
from broker.store.records import SessionRecord, TransactionRecord
from broker.upstream.registry import Registry

__all__ = ["REASONS", "AuditTrail", "failure_reason"]

log = logging.getLogger(__name__)

REASONS: Final[Mapping[type[Exception], str]] = {
    UpstreamResponseError: "upstream_response_refused",
    UpstreamLoginRequiredError: "upstream_login_required",
    UpstreamDeniedError: "upstream_denied",
    UpstreamUnavailableError: "upstream_unavailable",
    LinkAssuranceError: "link_assurance_too_low",
    UpstreamRequirementError: "upstream_requirement_unmet",
    LoginElsewhereError: "login_elsewhere",
    TransactionError: "transaction_invalid",
    AccountLinkError: "account_link_refused",
    LoginRequiredError: "login_required",  # prompt=none, and the IdP needs the person
    OAuthError: "refused_to_portal",
}
"""Why a login failed, by the error's class (the nearest in its MRO); an error of any other class
ends no login. `server_error`: an unexpected error during a login."""
SERVER_ERROR: Final = "server_error"
_PATH_LENGTH: Final = 200


def failure_reason(exc: Exception) -> str | None:
    for kind in type(exc).__mro__:
        if kind in REASONS:
            return REASONS[kind]
    return None


class AuditTrail:
    def __init__(self, store: Store, clock: Clock, registry: Callable[[], Registry]) -> None:
        """`registry`: the current one (a reload of the IdP files replaces it)."""
        self._store = store
        self._clock = clock
        self._registry = registry

    async def login_completed(
        self, tx: TransactionRecord, account_id: str, acr: str | None
    ) -> None:
        state = state_of(tx)
        idp = state.idp
        idp_id = idp if isinstance(idp, str) else None
        await self._store.login_events.add(
            LoginEvent(
                at=self._clock.now(),
                outcome="completed",
                account_id=account_id,
                client_id=tx.client_id or None,
                route=self._route(idp_id, state.choices.route),
                idp_id=idp_id,
                acr=acr,
                login_ref=login_ref(tx.tx_id),
            )
        )

    async def login_by_session(self, client_id: str, session: SessionRecord) -> None:
        """A portal answered from the broker's SSO session, without the IdP."""
        event = LoginEvent(
            at=self._clock.now(),
            outcome="completed",
            account_id=session.sub,
            client_id=client_id,
            route="sso",
            acr=session.acr,
        )
        await self._store.login_events.add(event)

    async def login_failed(
        self, exc: Exception, error_id: str | None = None, *, unexpected: bool = False
    ) -> None:
        """The login of this request failed with `exc`, if a login is under way (a transaction
        was found) and `exc` ends it. Never raises: the person still gets their page."""
        context = current()
        reason = SERVER_ERROR if unexpected else failure_reason(exc)
        if reason is None or context.login_ref is None:
            return
        event = LoginEvent(
            at=self._clock.now(),
            outcome="failed",
            reason=reason,
            client_id=context.client_id,
            route=self._route(context.idp, context.route),
            idp_id=context.idp,
            login_ref=context.login_ref,
            error_id=error_id,
        )
        await self._quietly(self._store.login_events.add(event), "login event")

    async def error_shown(
        self,
        error_id: str,
        path: str,
        status: int,
        exc: Exception,
        message_id: str,
        *,
        unexpected: bool = False,
    ) -> None:
        """What happened behind an error id, during a login or for an unexpected error; an
        anonymous refusal (a garbage SAML post, a 404, a login already gone) is only in the log,
        or anyone could grow the store a row a request. Never raises (the page matters more)."""
        context = current()
        if context.login_ref is None and not unexpected:
            return
        event = ErrorEvent(
            error_id=error_id,
            at=self._clock.now(),
            path=scrub(path)[:_PATH_LENGTH],
            status=status,
            error=type(exc).__name__,
            message_id=message_id,
            client_id=context.client_id,
            idp_id=context.idp,
            request_id=context.request_id,
            login_ref=context.login_ref,
        )
        await self._quietly(self._store.error_events.add(event), "error event")

    async def purge(self, now: float, login_days: int, error_days: int) -> None:
        await self._store.login_events.purge(now - login_days * 86400)
        await self._store.error_events.purge(now - error_days * 86400)

    def _route(self, idp_id: str | None, chosen: object) -> str | None:
        idp = self._registry().idp(idp_id or "")
        if idp is not None:
            return idp.route
        return chosen if isinstance(chosen, str) else None

    @staticmethod
    async def _quietly(write: Awaitable[None], what: str) -> None:
        try:
            await write
        except BrokerError as exc:
            log.error("could not record the %s: %s", what, type(exc).__name__)
