"""Rate-limit counters shared by every broker process and replica on the store: one row per
counter and fixed window, bumped by one atomic upsert per request."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection

__all__ = ["RateLimitStore", "SQLRateLimits"]


class RateLimitStore(Protocol):
    async def count_hit(self, counter: str, window_start: int, expires_at: float) -> int:
        """Count one request in the fixed window `window_start` of `counter` (one atomic
        statement); returns the window's count with this one."""


class SQLRateLimits:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def count_hit(self, counter: str, window_start: int, expires_at: float) -> int:
        row = await self._db.one(
            "INSERT INTO rate_counters (counter, window_start, hits, expires_at) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (counter, window_start) "
            "DO UPDATE SET hits = rate_counters.hits + 1 RETURNING hits",
            (counter, window_start, expires_at),
        )
        return int(row["hits"]) if row is not None else 1
