"""A real PostgreSQL server for the tests (`scripts/pg_cluster.py`, as `make demo-ha` runs it)
on a free port, started once per run (lazily, by the first test that needs it) and stopped at
the end; as the `postgres` user when root. Each test
gets a database of its own, copied from a migrated template (fast, and tests stay independent).
`make install` installs the Debian package when it is missing."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from pathlib import Path

from broker.store.postgres import PostgresStore
from scripts.pg_cluster import Cluster
from tests.servers import bound_socket

TEMPLATE = "broker_template"


class PostgresServer:
    def __init__(self) -> None:
        with bound_socket() as probe:  # a free port, closed at once; the server takes it
            port = probe.getsockname()[1]
        self.cluster = Cluster(Path(tempfile.mkdtemp(prefix="sote-pg-")), port)
        self.port = port
        self._names = itertools.count()

    def start(self) -> None:
        self.cluster.init()
        self.resume()
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        asyncio.run(_migrate(self.dsn(TEMPLATE)))

    def resume(self) -> None:
        """Start the server (again), on the same port and data; returns once it accepts."""
        self.cluster.start()

    def halt(self) -> None:
        """Stop the server as an operator would (fast: open connections are cut)."""
        self.cluster.stop("fast")

    def restart(self) -> None:
        self.halt()
        self.resume()

    def stop(self) -> None:
        try:
            self.cluster.stop("immediate")
        finally:
            shutil.rmtree(self.cluster.directory, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> None:
        self.cluster.sql(statement)

    def new_database(self) -> str:
        """A fresh database with the broker's schema; its DSN."""
        name = f"test_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.dsn(name)


async def _migrate(dsn: str) -> None:
    store = PostgresStore(dsn)
    await store.open()
    await store.close()
