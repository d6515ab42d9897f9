"""Reload requests for the upstream IdP files: `sote-broker idps reload` moves the generation
up by one; each broker process reads it now and then (one tiny read) and, when it moved since it
last loaded, reads its own idp_configs/ directory again (`broker.idp_reload`)."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection

__all__ = ["IdPReloadStore", "SQLIdPReloads"]

_NAME = "idps"


class IdPReloadStore(Protocol):
    async def request(self, now: float) -> int:
        """Ask every process to reload: the new generation (one atomic upsert)."""

    async def generation(self) -> int:
        """The generation asked for last; 0 if none ever was."""


class SQLIdPReloads:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def request(self, now: float) -> int:
        row = await self._db.one(
            "INSERT INTO idp_reloads (name, generation, requested_at) VALUES (?, 1, ?) "
            "ON CONFLICT (name) DO UPDATE SET generation = idp_reloads.generation + 1, "
            "requested_at = excluded.requested_at RETURNING generation",
            (_NAME, now),
        )
        return 0 if row is None else int(row["generation"])

    async def generation(self) -> int:
        row = await self._db.one("SELECT generation FROM idp_reloads WHERE name = ?", (_NAME,))
        return 0 if row is None else int(row["generation"])
