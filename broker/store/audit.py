"""The accounts' audit trail: who did what to which account, when and from which route; kept
after the account is gone, until its retention passes. Written in the same transaction as the
change it records (`insert`)."""

from __future__ import annotations

import json
from typing import Protocol

from broker.store.accounts import AuditEntry
from broker.store.connection import Connection, Statements

__all__ = ["AuditStore", "SQLAudit", "insert"]


class AuditStore(Protocol):
    async def add(self, entry: AuditEntry) -> None:
        """An audit entry of its own (an operator's export, say)."""

    async def trail(self, account_id: str) -> list[AuditEntry]: ...

    async def purge(self, before: float) -> int:
        """Delete the audit entries older than `before`; how many went."""


class SQLAudit:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def add(self, entry: AuditEntry) -> None:
        await insert(self._db, entry)

    async def trail(self, account_id: str) -> list[AuditEntry]:
        rows = await self._db.all(
            "SELECT * FROM account_audit WHERE account_id = ? ORDER BY at, audit_id",
            (account_id,),
        )
        return [
            AuditEntry(
                account_id=row["account_id"],
                at=row["at"],
                action=row["action"],
                actor=row["actor"],
                route=row["route"],
                changes=json.loads(row["changes"]),
            )
            for row in rows
        ]

    async def purge(self, before: float) -> int:
        return await self._db.run("DELETE FROM account_audit WHERE at < ?", (before,))


async def insert(db: Statements, entry: AuditEntry) -> None:
    await db.run(
        "INSERT INTO account_audit (account_id, at, action, actor, route, changes) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            entry.account_id,
            entry.at,
            entry.action,
            entry.actor,
            entry.route,
            json.dumps(dict(entry.changes), sort_keys=True, ensure_ascii=False),
        ),
    )
