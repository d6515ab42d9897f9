"""The PostgreSQL backend, for several broker replicas on one database: an asyncpg pool.

Statements are written once with `?` placeholders (`broker.store.connection`); here they are
numbered `$1, $2, ...` once per distinct statement. Transactions are short (READ COMMITTED): a
single-use operation is one conditional UPDATE, and a check-then-write locks what it read
(`FOR UPDATE`, or an advisory lock on the keys it is about to take).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, cast

import asyncpg

from broker.errors import StoreError, StoreUnavailableError
from broker.store.connection import Dialect, Params, Row, Statements

__all__ = ["PostgresConnection", "errors", "numbered"]


# The server cannot serve for now (lost or refused connection, shutting down or starting up,
# out of connections or disk): worth trying again shortly, unlike a refused statement.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # e.g. the pool is closing, a connection closed under us
    asyncpg.exceptions.InternalClientError,  # seen when the server went away mid-statement
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, too many connections
)


@contextmanager
def errors(doing: str = "PostgreSQL") -> Iterator[None]:
    """The one place where the driver's exceptions (a refused statement, a lost or refused
    connection, a pool that timed out) become the broker's. Never names the DSN: it may hold a
    password."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailableError(f"{doing}: {type(exc).__name__}: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(f"{doing}: {type(exc).__name__}: {exc}") from exc


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$n` (none of the broker's statements has a `?` inside a
    string literal; those are left alone anyway)."""
    parts = sql.split("'")
    count = 0
    for i in range(0, len(parts), 2):  # the even parts are outside string literals
        pieces = parts[i].split("?")
        for n in range(1, len(pieces)):
            count += 1
            pieces[n] = f"${count}{pieces[n]}"
        parts[i] = "".join(pieces)
    return "'".join(parts)


def _rowcount(status: str) -> int:
    """Rows changed, from the command status ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Statements:
    """Statements on one pooled connection (inside a transaction)."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        with errors():
            row = await self._conn.fetchrow(numbered(sql), *params)
        return None if row is None else dict(row)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        with errors():
            rows = await self._conn.fetch(numbered(sql), *params)
        return [dict(row) for row in rows]

    async def run(self, sql: str, params: Params = ()) -> int:
        with errors():
            status = await self._conn.execute(numbered(sql), *params)
        return _rowcount(cast(str, status))

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        args = [tuple(row) for row in rows]
        if args:
            with errors():
                await self._conn.executemany(numbered(sql), args)


class PostgresConnection:
    dialect: Dialect = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._min_size, self._max_size, self._timeout = min_size, max_size, timeout
        self._pool: Any = None

    def __repr__(self) -> str:
        return "PostgresConnection(<dsn>)"  # the DSN may hold a password: never in a repr

    async def open(self) -> None:
        with errors("cannot connect to PostgreSQL"):
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._timeout,
                command_timeout=self._timeout,
            )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.wait_for(pool.close(), self._timeout)

    @asynccontextmanager
    async def _acquired(self) -> AsyncIterator[Any]:
        if self._pool is None:
            raise StoreError("store is not open")
        with errors():
            conn = await self._pool.acquire(timeout=self._timeout)
        try:
            yield conn
        finally:
            with errors():
                await self._pool.release(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        async with self._acquired() as conn:
            tx = conn.transaction()
            with errors():
                await tx.start()
            try:
                yield _Statements(conn)
            except BaseException:
                with errors():
                    await tx.rollback()
                raise
            with errors():
                await tx.commit()

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._acquired() as conn:
            return await _Statements(conn).one(sql, params)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._acquired() as conn:
            return await _Statements(conn).all(sql, params)

    async def run(self, sql: str, params: Params = ()) -> int:
        async with self._acquired() as conn:
            return await _Statements(conn).run(sql, params)

    async def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as db:
            await db.run_many(sql, rows)
