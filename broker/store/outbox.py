"""The back-channel logout outbox: notices waiting to reach portals, leased to one sender at a
time so that several replicas never send the same notice at once."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection, for_update
from broker.store.records import LogoutDelivery

__all__ = ["LogoutOutbox", "SQLLogoutOutbox"]


class LogoutOutbox(Protocol):
    async def enqueue(self, deliveries: list[LogoutDelivery]) -> None: ...

    async def claim_due(self, now: float, lease_seconds: float, limit: int) -> list[LogoutDelivery]:
        """Take due deliveries, leasing them so another replica does not send them too."""

    async def finish(self, delivery_id: str) -> None: ...

    async def retry(self, delivery_id: str, attempts: int, next_attempt_at: float) -> None: ...


class SQLLogoutOutbox:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def enqueue(self, deliveries: list[LogoutDelivery]) -> None:
        await self._db.run_many(
            "INSERT INTO logout_outbox (delivery_id, client_id, uri, sub, sid, attempts, "
            "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (d.delivery_id, d.client_id, d.uri, d.sub, d.sid, d.attempts, d.next_attempt_at)
                for d in deliveries
            ],
        )

    async def claim_due(self, now: float, lease_seconds: float, limit: int) -> list[LogoutDelivery]:
        # PostgreSQL: rows another replica is claiming right now are skipped, not waited for.
        due = "SELECT * FROM logout_outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at "
        async with self._db.transaction() as db:
            rows = await db.all(for_update(db, due + "LIMIT ?", skip_locked=True), (now, limit))
            await db.run_many(
                "UPDATE logout_outbox SET next_attempt_at = ? WHERE delivery_id = ?",
                [(now + lease_seconds, row["delivery_id"]) for row in rows],
            )
        return [LogoutDelivery(**row) for row in rows]

    async def finish(self, delivery_id: str) -> None:
        await self._db.run("DELETE FROM logout_outbox WHERE delivery_id = ?", (delivery_id,))

    async def retry(self, delivery_id: str, attempts: int, next_attempt_at: float) -> None:
        await self._db.run(
            "UPDATE logout_outbox SET attempts = ?, next_attempt_at = ? WHERE delivery_id = ?",
            (attempts, next_attempt_at, delivery_id),
        )
