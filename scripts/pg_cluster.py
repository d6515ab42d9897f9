"""A throwaway PostgreSQL cluster: initdb and pg_ctl on one port, for `make demo-ha` and the
tests (tests/postgres.py). As root initdb refuses to run, so the server then runs as the
`postgres` user (the Debian package creates it); otherwise as the current user. Trust
authentication on 127.0.0.1 only, and a socket in the cluster's own directory: for development,
never for production. Independent of the broker, so the demo script can use it before the
broker's settings exist.

    python -m scripts.pg_cluster start DIRECTORY PORT   # initdb (if new), start; prints the DSN
    python -m scripts.pg_cluster stop DIRECTORY         # stop (fast); --remove deletes DIRECTORY
    python -m scripts.pg_cluster serve DIRECTORY PORT   # initdb (if new), run in the foreground
    python -m scripts.pg_cluster ready DIRECTORY PORT   # wait until it accepts; create the database
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DURABILITY_OFF = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
"""Faster, and a crash may lose the cluster: only for data nobody needs to keep."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run `make install` (Debian postgresql)")
    return versions[-1]


class Cluster:
    """One cluster in `directory` (data in `directory/data`, log in `directory/pg.log`)."""

    def __init__(self, directory: Path, port: int, *, durable: bool = False) -> None:
        self.bin = bin_dir()
        self.directory = directory.resolve()
        self.data = self.directory / "data"
        self.log = self.directory / "pg.log"
        self.port = port
        self.as_postgres = os.geteuid() == 0
        self.options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1" + (
            "" if durable else " " + DURABILITY_OFF
        )

    def run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)  # noqa: S603

    def init(self) -> None:
        """Create the cluster unless it exists (superuser `postgres`, trust authentication)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.data / "PG_VERSION").exists():
            return
        if self.as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self.run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-locale", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server; returns once it accepts connections."""
        pg_ctl = str(self.bin / "pg_ctl")
        self.run(
            pg_ctl, "-D", str(self.data), "-o", self.options, "-l", str(self.log), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: connections are cut; `immediate`: no shutdown checkpoint)."""
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def serve(self) -> None:
        """Become the server, in the foreground (`exec`): SIGTERM stops it (smart shutdown),
        so a supervisor such as scripts/demo-ha.sh stops it like its other processes."""
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        command = [*prefix, str(self.bin / "postgres"), "-D", str(self.data), *self.options.split()]
        os.execvp(command[0], command)  # noqa: S606

    def wait_ready(self, seconds: float, database: str) -> None:
        """Wait until the server accepts connections, then create `database` if missing."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.sql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            self.sql(f"CREATE DATABASE {database}")
        except subprocess.CalledProcessError as exc:
            if b"already exists" not in exc.stderr:
                raise

    def running(self) -> bool:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        command = [*prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        return subprocess.run(command, capture_output=True, check=False, timeout=30).returncode == 0  # noqa: S603

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> None:
        psql = [str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command = [*psql, "-d", self.dsn("postgres"), "-c", statement]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.pg_cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="initdb if needed, start, print the DSN")
    start.add_argument("directory", type=Path)
    start.add_argument("port", type=int)
    start.add_argument("--database", default="broker", help="created if missing")
    serve = commands.add_parser("serve", help="initdb if needed, run in the foreground")
    serve.add_argument("directory", type=Path)
    serve.add_argument("port", type=int)
    ready = commands.add_parser("ready", help="wait until it accepts, create the database")
    ready.add_argument("directory", type=Path)
    ready.add_argument("port", type=int)
    ready.add_argument("--database", default="broker", help="created if missing")
    ready.add_argument("--seconds", type=float, default=20)
    stop = commands.add_parser("stop", help="stop the server if it runs")
    stop.add_argument("directory", type=Path)
    stop.add_argument("--remove", action="store_true", help="then delete the directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            cluster = Cluster(args.directory, args.port)
            cluster.init()
            cluster.start()
            cluster.wait_ready(20, args.database)
            print(cluster.dsn(args.database))
        elif args.command == "serve":
            cluster = Cluster(args.directory, args.port)
            cluster.init()
            cluster.serve()
        elif args.command == "ready":
            cluster = Cluster(args.directory, args.port)
            cluster.wait_ready(args.seconds, args.database)
            print(cluster.dsn(args.database))
        else:
            cluster = Cluster(args.directory, 0)
            if cluster.data.exists() and cluster.running():
                cluster.stop()
            if args.remove:
                shutil.rmtree(cluster.directory, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        print(f"pg_cluster: {exc.cmd[-2:]} failed ({exc.returncode}): {detail}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"pg_cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
