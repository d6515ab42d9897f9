"""What only the SQLite connection does: one connection shared by every coroutine, serialised
by a lock, and a database file only its owner can read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker.store.records import TransactionRecord
from broker.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0


async def test_the_database_file_is_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    await store.close()
    assert oct((tmp_path / "store.db").stat().st_mode & 0o777) == "0o600"


async def test_a_write_is_committed_when_it_returns_even_beside_an_open_transaction(
    tmp_path: Path,
) -> None:
    """One connection serves every coroutine: a statement must not slip into another coroutine's
    open transaction (its write would be invisible to other processes until that commits)."""
    mine, other = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    await mine.open()
    await other.open()
    tx = TransactionRecord("t1", "portal", {}, NOW, NOW + 60, {"step": "role"})
    try:
        release = asyncio.Event()

        async def long_transaction() -> None:
            async with mine.connection.transaction() as db:  # e.g. the back-channel worker's
                await db.all("SELECT COUNT(*) FROM logout_outbox")
                await release.wait()

        holder = asyncio.create_task(long_transaction())
        await asyncio.sleep(0.05)
        write = asyncio.create_task(mine.transactions.put(tx))
        await asyncio.sleep(0.05)
        assert not write.done()  # it waits for the transaction instead of joining it
        release.set()
        await asyncio.gather(holder, write)
        assert await other.transactions.get("t1") == tx
    finally:
        await mine.close()
        await other.close()
