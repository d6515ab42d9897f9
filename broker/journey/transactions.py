"""Login transactions: one row per login in progress, so any broker process can continue it."""

from __future__ import annotations

from typing import Any

from broker.clock import Clock
from broker.errors import TransactionError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.store.base import Store
from broker.store.records import TransactionRecord


class LoginTransactions:
    def __init__(self, store: Store, clock: Clock, ttl: int) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl

    async def create(self, request: AuthorizationRequest) -> TransactionRecord:
        now = self._clock.now()
        tx = TransactionRecord(
            tx_id=secrets.new_secret(),
            client_id=request.client_id,
            request=request.to_json(),
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.put_transaction(tx)
        return tx

    async def load(self, tx_id: str | None) -> TransactionRecord:
        if not tx_id:
            raise TransactionError("no login transaction in this browser")
        tx = await self._store.get_transaction(tx_id)
        if tx is None:
            raise TransactionError("login transaction not found or already finished")
        if tx.expires_at <= self._clock.now():
            raise TransactionError("login transaction expired")
        return tx

    async def update(self, tx: TransactionRecord, **data: Any) -> TransactionRecord:
        updated = TransactionRecord(
            tx_id=tx.tx_id,
            client_id=tx.client_id,
            request=tx.request,
            created_at=tx.created_at,
            expires_at=tx.expires_at,
            data={**tx.data, **data},
        )
        await self._store.put_transaction(updated)
        return updated

    async def finish(self, tx: TransactionRecord) -> AuthorizationRequest:
        """Remove the transaction; only the first of two racing submits gets past this."""
        if not await self._store.delete_transaction(tx.tx_id):
            raise TransactionError("login transaction already finished")
        return AuthorizationRequest.from_json(tx.request)
