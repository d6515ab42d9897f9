"""Leases on work that must run in one broker process at a time across every replica (purging
expired rows, pruning signing keys): taken and renewed by one conditional upsert, so two
processes can never both hold one, and a holder that died loses it when it expires."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection

__all__ = ["LeaseStore", "SQLLeases"]


class LeaseStore(Protocol):
    async def take(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Take or renew the lease `name` for `holder` until now + seconds; False while another
        holder's lease has not expired. One statement."""

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (on shutdown), if `holder` still has it."""


class SQLLeases:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def take(self, name: str, holder: str, now: float, seconds: float) -> bool:
        taken = await self._db.run(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.expires_at < ? OR leases.holder = excluded.holder",
            (name, holder, now + seconds, now),
        )
        return taken == 1

    async def release(self, name: str, holder: str) -> None:
        await self._db.run("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
