"""Every contract test runs on each backend: a real SQLite file and a real PostgreSQL database.
`store_factory` makes more stores on the same database (another broker process, another
replica); `store` is one, opened."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from broker.store.base import Store
from broker.store.postgres import PostgresStore
from broker.store.sqlite import SQLiteStore
from tests.brokers import BACKENDS

StoreFactory = Callable[[], Store]


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    if request.param == "postgresql":
        dsn = request.getfixturevalue("postgres_dsn")
        return lambda: PostgresStore(dsn)
    return lambda: SQLiteStore(tmp_path / "store.db")


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    s = store_factory()
    await s.open()
    yield s
    await s.close()
