"""A real PostgreSQL server for the tests: initdb and pg_ctl on a free port, started once per
run (lazily, by the first test that needs it) and stopped at the end. As root, initdb refuses to
run, so the server runs as the `postgres` user then; otherwise as the current user. Each test
gets a database of its own, copied from a migrated template (fast, and tests stay independent).
`make install` installs the Debian package when it is missing."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from broker.store.postgres import PostgresStore
from tests.servers import bound_socket

TEMPLATE = "broker_template"


def _bin_dir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run `make install` (Debian postgresql)")
    return versions[-1]


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.directory = Path(tempfile.mkdtemp(prefix="sote-pg-"))
        self.data = self.directory / "data"
        with bound_socket() as probe:  # a free port, closed at once; the server takes it
            self.port = probe.getsockname()[1]
        self._names = itertools.count()
        self._as_postgres = os.geteuid() == 0
        self._options = ""

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-locale", "-E", "UTF8",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # tests only
        )
        self._options = options
        self.resume()
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        asyncio.run(_migrate(self.dsn(TEMPLATE)))

    def resume(self) -> None:
        """Start the server (again), on the same port and data; returns once it accepts."""
        log = str(self.directory / "pg.log")
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", self._options, "-l", log, "-w", "start")

    def halt(self) -> None:
        """Stop the server as an operator would (fast: open connections are cut)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.halt()
        self.resume()

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> None:
        psql = [str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command = [*psql, "-d", self.dsn("postgres"), "-c", statement]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def new_database(self) -> str:
        """A fresh database with the broker's schema; its DSN."""
        name = f"test_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.dsn(name)


async def _migrate(dsn: str) -> None:
    store = PostgresStore(dsn)
    await store.open()
    await store.close()
