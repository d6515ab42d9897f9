"""Replay caches: the JWT ids seen (client assertions, logout tokens), each until it expires."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection

__all__ = ["ReplayCache", "SQLReplayCache"]


class ReplayCache(Protocol):
    async def remember_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record a JWT id; False if it was already recorded (a replay). One statement."""


class SQLReplayCache:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def remember_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        added = await self._db.run(
            "INSERT INTO seen_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (issuer, jti, expires_at),
        )
        return added == 1
