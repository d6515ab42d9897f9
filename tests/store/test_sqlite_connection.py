"""What only the SQLite connection does: one connection shared by every coroutine, serialised
by a lock, and a database file only its owner can read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker.store.records import ClientRecord, TransactionRecord
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


async def test_deleted_rows_are_overwritten_in_the_database_file(tmp_path: Path) -> None:
    """secure_delete: what was deleted is not left readable in free pages of the file. (Debian's
    SQLite is built with SQLITE_SECURE_DELETE, so there the pragma only confirms the default; the
    control at the end shows that the byte check sees data a plain delete leaves behind.)"""
    store = SQLiteStore(tmp_path / "erased.db")
    await store.open()
    marker = "Poistettava Henkilo 010280-952L"
    try:
        assert await store.connection.all("PRAGMA secure_delete") == [{"secure_delete": 1}]
        await store.clients.put(
            ClientRecord(
                client_id="gone",
                client_name=marker,
                redirect_uris=("https://p/cb",),
                token_endpoint_auth_method="none",
                created_at=NOW,
            )
        )
        await store.connection.all("PRAGMA wal_checkpoint(TRUNCATE)")
        assert marker.encode() in (tmp_path / "erased.db").read_bytes()
        assert await store.clients.delete("gone", NOW)
        await store.connection.all("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [tmp_path / name for name in ("erased.db", "erased.db-wal")]
        assert not [f.name for f in files if f.exists() and marker.encode() in f.read_bytes()]
        await store.connection.all("PRAGMA secure_delete=OFF")  # the control
        control = ClientRecord("kept", marker + " control", ("https://p/cb",), "none")
        await store.clients.put(control)
        await store.connection.all("PRAGMA wal_checkpoint(TRUNCATE)")
        await store.clients.delete("kept", NOW)
        await store.connection.all("PRAGMA wal_checkpoint(TRUNCATE)")
        assert (marker + " control").encode() in files[0].read_bytes()
    finally:
        await store.close()
