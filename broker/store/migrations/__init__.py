"""Versioned SQL migrations, one file per version and dialect: `<dialect>/NNNN_name.sql`, each
applied once, in order, in a transaction of its own. Every SQLite migration has a PostgreSQL
twin of the same number with equivalent DDL (REAL -> DOUBLE PRECISION and so on).

On PostgreSQL several replicas may start at once: each migration's transaction first takes an
advisory lock, then looks again whether another replica applied it meanwhile.
"""

from __future__ import annotations

from importlib import resources

from broker.errors import StoreError
from broker.store.connection import Connection, Statements

__all__ = ["apply", "load", "pending", "require_current"]

_LOCK = 0x50_7E_B2_0C  # pg_advisory_xact_lock key of the migrations ("sote broker")


def load(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration of the dialect, in order."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append((int(version), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found)


async def pending(db: Connection) -> list[int]:
    """The versions not applied yet."""
    async with db.transaction() as tx:
        done = await _applied(tx)
    return [version for version, _, _ in load(db.dialect) if version not in done]


async def apply(db: Connection) -> list[int]:
    """Apply what is pending; the versions applied."""
    applied = []
    for version, name, sql in load(db.dialect):
        async with db.transaction() as tx:
            if version in await _applied(tx):
                continue
            for statement in _statements(sql):
                await tx.run(statement)
            await tx.run(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
            )
        applied.append(version)
    return applied


async def require_current(db: Connection) -> None:
    """StoreError unless every migration is applied (production: `sote-broker migrate` applies
    them, the broker does not)."""
    if missing := await pending(db):
        raise StoreError(
            f"the store's schema is not current (missing migrations {missing}): "
            "run `sote-broker migrate`"
        )


async def _applied(tx: Statements) -> set[int]:
    if tx.dialect == "postgresql":
        await tx.run("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
    await tx.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    return {row["version"] for row in await tx.all("SELECT version FROM schema_migrations")}


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
