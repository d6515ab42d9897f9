"""Login transactions: one row per login in progress, so any broker process can continue it.
Each one found or changed is bound to the request's context (its log lines and audit records)."""

from __future__ import annotations

import dataclasses

from broker.clock import Clock
from broker.errors import TransactionError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.journey.login_state import LoginState, state_of
from broker.request_context import bind_login
from broker.store.base import Store
from broker.store.records import TransactionRecord


class LoginTransactions:
    def __init__(self, store: Store, clock: Clock, ttl: int) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl

    async def create(self, request: AuthorizationRequest, state: LoginState) -> TransactionRecord:
        now = self._clock.now()
        tx = TransactionRecord(
            tx_id=secrets.new_secret(),
            client_id=request.client_id,
            request=request.to_json(),
            created_at=now,
            expires_at=now + self._ttl,
            data=state.to_json(),
        )
        return await self._put(tx)

    async def load(self, tx_id: str | None) -> TransactionRecord:
        if not tx_id:
            raise TransactionError("no login transaction in this browser")
        tx = await self._store.transactions.get(tx_id)
        if tx is None:
            raise TransactionError("login transaction not found or already finished")
        return self._current(tx)

    async def by_relay_state(self, relay_state: str) -> TransactionRecord:
        """The login waiting for a SAML answer with this RelayState (a cross-site POST, which
        carries no cookie: the answer it brings is only held, see `LoginJourney`)."""
        tx = await self._store.transactions.get_by_relay(secrets.hash_secret(relay_state))
        if tx is None:
            raise TransactionError("SAML answer for no login waiting for one")
        return self._current(tx)

    def _current(self, tx: TransactionRecord) -> TransactionRecord:
        _bind(tx)  # an expired login's failure is recorded with its portal and IdP
        if tx.expires_at <= self._clock.now():
            raise TransactionError("login transaction expired")
        return tx

    async def save(self, tx: TransactionRecord, state: LoginState) -> TransactionRecord:
        """The login's next state."""
        return await self._put(dataclasses.replace(tx, data=state.to_json()))

    async def expect_answer(
        self, tx: TransactionRecord, relay_state: str | None, state: LoginState
    ) -> TransactionRecord:
        """The next state, and the ACS finds this transaction by `relay_state` (None: by
        nothing, once the answer is held or when the login is not SAML)."""
        relay_hash = None if relay_state is None else secrets.hash_secret(relay_state)
        return await self._put(dataclasses.replace(tx, data=state.to_json(), relay_hash=relay_hash))

    async def _put(self, tx: TransactionRecord) -> TransactionRecord:
        await self._store.transactions.put(tx)
        _bind(tx)
        return tx

    async def finish(self, tx: TransactionRecord) -> AuthorizationRequest:
        """Remove the transaction; only the first of two racing submits gets past this."""
        if not await self._store.transactions.delete(tx.tx_id):
            raise TransactionError("login transaction already finished")
        return AuthorizationRequest.from_json(tx.request)


def _bind(tx: TransactionRecord) -> None:
    try:
        state = state_of(tx)
    except TransactionError:  # refused where it is read; the log still names the login
        bind_login(tx.tx_id, tx.client_id, None, None)
        return
    bind_login(tx.tx_id, tx.client_id, state.choices.route, state.idp)
