"""The embedded default backend: one aiosqlite connection to one file, WAL mode.

Several broker processes may share the file: a single-use operation is one conditional UPDATE and
a check-then-write is one `BEGIN IMMEDIATE` transaction, both of which SQLite serialises across
processes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite

from broker.errors import StoreError, StoreUnavailableError
from broker.store.connection import Dialect, Params, Row, Statements

__all__ = ["SQLiteConnection", "errors"]

_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "foreign_keys=ON",
    "busy_timeout=5000",
    "secure_delete=ON",  # deleted rows are overwritten, not left in free pages
)


def _create_private(path: Path) -> None:
    """The database file made 0600 before SQLite opens it: SQLite gives its `-wal` and `-shm`
    files the database file's mode, so none of the three is ever readable by others."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


# SQLite result codes of a store that cannot serve for now (disk full, file or directory
# read-only, locked past busy_timeout, an I/O error): worth trying again once an operator acts.
_UNAVAILABLE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_BUSY", "SQLITE_IOERR")


@contextmanager
def errors(doing: str = "SQLite") -> Iterator[None]:
    """The one place where SQLite's exceptions become the broker's."""
    try:
        yield
    except OSError as exc:
        raise StoreUnavailableError(f"{doing}: {exc}") from exc
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(_UNAVAILABLE):
            raise StoreUnavailableError(f"{doing}: {exc} ({name})") from exc
        raise StoreError(f"{doing}: {exc}") from exc


class _Statements:
    """Statements on the connection, without taking the lock (its holder runs them)."""

    dialect: Dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    # Each call is one round trip to aiosqlite's thread: `async with execute()` plus fetch and
    # close would be three, and those trips, not the SQL, dominate a token redemption's CPU.
    async def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        with errors():
            return [dict(row) for row in await self._db.execute_fetchall(sql, tuple(params))]

    async def run(self, sql: str, params: Params = ()) -> int:
        with errors():
            cursor = await self._db.execute(sql, tuple(params))
        return cursor.rowcount

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        with errors():
            await self._db.executemany(sql, [tuple(row) for row in rows])


class SQLiteConnection:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # One connection serves every coroutine, so a statement run while another coroutine's
        # transaction is open would join it: it would read that transaction's (possibly stale)
        # snapshot, and a write would commit or roll back with it. Every statement and every
        # transaction therefore takes this lock.
        self._lock = asyncio.Lock()

    @property
    def _statements(self) -> _Statements:
        if self._db is None:
            raise StoreError("store is not open")
        return _Statements(self._db)

    async def open(self) -> None:
        with errors(f"cannot open SQLite store at {self.path}"):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(self.path)
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            with errors(f"cannot open SQLite store at {self.path}"):
                self._db.row_factory = sqlite3.Row
                for pragma in _PRAGMAS:
                    await self._db.execute_fetchall(f"PRAGMA {pragma}")
        except BaseException:  # the connection's thread would keep the process alive
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """IMMEDIATE takes SQLite's write lock at once, so other processes wait for it instead
        of failing at the first write."""
        statements = self._statements
        async with self._lock:
            await statements.run("BEGIN IMMEDIATE")
            try:
                yield statements
            except BaseException:
                await statements.run("ROLLBACK")
                raise
            await statements.run("COMMIT")

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._lock:
            return await self._statements.one(sql, params)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await self._statements.all(sql, params)

    async def run(self, sql: str, params: Params = ()) -> int:
        async with self._lock:
            return await self._statements.run(sql, params)

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as db:
            await db.run_many(sql, rows)
