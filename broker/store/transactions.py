"""Login transactions: one row per login in progress, continued by any replica."""

from __future__ import annotations

from typing import Protocol

from broker.store.columns import dump, load
from broker.store.connection import Connection, Row
from broker.store.records import TransactionRecord

__all__ = ["SQLTransactions", "TransactionStore"]


class TransactionStore(Protocol):
    async def put(self, tx: TransactionRecord) -> None:
        """Insert, or update the data, expiry and relay hash of, a transaction."""

    async def get(self, tx_id: str) -> TransactionRecord | None: ...

    async def get_by_relay(self, relay_hash: str) -> TransactionRecord | None:
        """The transaction whose SAML login sent this RelayState (by its hash)."""

    async def delete(self, tx_id: str) -> bool:
        """Delete; False if it was already gone (so a double submit completes only once)."""


class SQLTransactions:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def put(self, tx: TransactionRecord) -> None:
        await self._db.run(
            "INSERT INTO transactions "
            "(tx_id, client_id, request, data, created_at, expires_at, relay_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tx_id) DO UPDATE SET "
            "data = excluded.data, expires_at = excluded.expires_at, "
            "relay_hash = excluded.relay_hash",
            (
                tx.tx_id,
                tx.client_id,
                dump(tx.request),
                dump(tx.data),
                tx.created_at,
                tx.expires_at,
                tx.relay_hash,
            ),
        )

    async def get(self, tx_id: str) -> TransactionRecord | None:
        row = await self._db.one("SELECT * FROM transactions WHERE tx_id = ?", (tx_id,))
        return None if row is None else _transaction(row)

    async def get_by_relay(self, relay_hash: str) -> TransactionRecord | None:
        row = await self._db.one("SELECT * FROM transactions WHERE relay_hash = ?", (relay_hash,))
        return None if row is None else _transaction(row)

    async def delete(self, tx_id: str) -> bool:
        return await self._db.run("DELETE FROM transactions WHERE tx_id = ?", (tx_id,)) > 0


def _transaction(row: Row) -> TransactionRecord:
    return TransactionRecord(
        tx_id=row["tx_id"],
        client_id=row["client_id"],
        request=load(row["request"]),
        data=load(row["data"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        relay_hash=row["relay_hash"],
    )
