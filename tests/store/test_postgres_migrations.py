"""PostgreSQL in production does not change its schema on start: `sote-broker migrate` does,
and a broker finding migrations missing refuses to open the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from broker.cli import main
from broker.errors import StoreError
from broker.store.postgres import PostgresStore
from tests.postgres import PostgresServer


def test_production_refuses_a_schema_that_migrate_has_not_brought_up_to_date(
    postgres: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    postgres.sql("CREATE DATABASE unmigrated")
    dsn = postgres.dsn("unmigrated")
    with pytest.raises(StoreError, match="run `sote-broker migrate`"):
        asyncio.run(PostgresStore(dsn, migrate=False).open())
    (tmp_path / "dsn").write_text(dsn + "\n")
    settings = {
        "mode": "development",
        "issuer": "http://127.0.0.1:9",
        "store": {"backend": "postgresql", "dsn_file": str(tmp_path / "dsn")},
    }
    (tmp_path / "broker.yaml").write_text(yaml.safe_dump(settings))
    assert main(["--config", str(tmp_path / "broker.yaml"), "migrate"]) == 0
    assert "ok: applied 0001" in capsys.readouterr().out
    assert main(["--config", str(tmp_path / "broker.yaml"), "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    asyncio.run(opens(PostgresStore(dsn, migrate=False)))


async def opens(store: PostgresStore) -> None:
    await store.open()
    await store.close()
