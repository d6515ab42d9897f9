"""The small interface every backend's connection offers the SQL written once above it.

Each aggregate (`clients`, `grants`, ...) is one class of SQL against `Statements`, the same for
SQLite and PostgreSQL, so the two backends cannot drift. A backend contributes only its
connection (open, migrate, transaction, error mapping) and its migrations. Statements use `?`
placeholders (PostgreSQL's connection numbers them); where the dialects differ, the SQL asks
`dialect` (claiming outbox rows, locking a row that a transaction will update).

A connection translates its driver's exceptions into `StoreError` in one context manager
(`errors()` in its module), so nothing above the store ever sees a driver type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, TypeAlias

__all__ = ["Connection", "Dialect", "Params", "Row", "Statements", "for_update"]

Dialect: TypeAlias = Literal["sqlite", "postgresql"]
Row: TypeAlias = dict[str, Any]
Params: TypeAlias = Sequence[Any]


class Statements(Protocol):
    """Run SQL: on their own (each statement its own transaction) or inside `transaction()`."""

    @property
    def dialect(self) -> Dialect: ...

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row, or None."""

    async def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def run(self, sql: str, params: Params = ()) -> int:
        """Execute; the number of rows changed."""

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None: ...


class Connection(Statements, Protocol):
    """One backend's connection (SQLite: one file; PostgreSQL: a pool)."""

    async def open(self) -> None:
        """Connect; StoreError if the database cannot be reached or opened."""

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Statements]:
        """A short write transaction: committed when the block ends, rolled back if it raises.
        Everything a single-use or check-then-write operation does happens inside one."""


def for_update(db: Statements, select: str, *, skip_locked: bool = False) -> str:
    """`select` locking the rows it reads until the transaction ends (with `skip_locked`, rows
    another transaction holds are passed over instead of waited for). PostgreSQL needs it where
    a transaction reads and then writes a row; on SQLite `BEGIN IMMEDIATE` has already locked
    the whole database for the transaction, and the select is left as it is."""
    if db.dialect != "postgresql":
        return select
    return select + (" FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE")
