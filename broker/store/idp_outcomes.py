"""Upstream logins that failed or succeeded, per IdP, counted in short buckets of time on the
store, so that every replica's logins feed one sliding window (`broker.notices.watcher`)."""

from __future__ import annotations

from typing import Protocol

from broker.store.connection import Connection

__all__ = ["IdPOutcomeStore", "SQLIdPOutcomes"]


class IdPOutcomeStore(Protocol):
    async def count(self, idp_id: str, bucket: int, *, failed: bool, expires_at: float) -> None:
        """Count one outcome in the bucket (one atomic upsert)."""

    async def totals(self, idp_id: str, since_bucket: int) -> tuple[int, int]:
        """(failures, successes) in the buckets from `since_bucket` on."""


class SQLIdPOutcomes:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def count(self, idp_id: str, bucket: int, *, failed: bool, expires_at: float) -> None:
        failures, successes = (1, 0) if failed else (0, 1)
        await self._db.run(
            "INSERT INTO idp_outcomes (idp_id, bucket, failures, successes, expires_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (idp_id, bucket) DO UPDATE SET "
            "failures = idp_outcomes.failures + excluded.failures, "
            "successes = idp_outcomes.successes + excluded.successes",
            (idp_id, bucket, failures, successes, expires_at),
        )

    async def totals(self, idp_id: str, since_bucket: int) -> tuple[int, int]:
        row = await self._db.one(
            "SELECT COALESCE(SUM(failures), 0) AS failures, "
            "COALESCE(SUM(successes), 0) AS successes "
            "FROM idp_outcomes WHERE idp_id = ? AND bucket >= ?",
            (idp_id, since_bucket),
        )
        return (0, 0) if row is None else (int(row["failures"]), int(row["successes"]))
