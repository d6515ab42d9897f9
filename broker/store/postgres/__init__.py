"""The PostgreSQL backend: `PostgresStore(dsn)` is the store on an asyncpg pool."""

from __future__ import annotations

from broker.store.base import Store
from broker.store.postgres.connection import PostgresConnection

__all__ = ["PostgresStore"]


class PostgresStore(Store):
    """The store on a PostgreSQL database. `migrate=False` (production) refuses a database that
    `sote-broker migrate` has not brought up to date instead of changing its schema."""

    def __init__(
        self,
        dsn: str,
        *,
        migrate: bool = True,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        connection = PostgresConnection(dsn, min_size=min_size, max_size=max_size, timeout=timeout)
        super().__init__(connection, migrate=migrate)
