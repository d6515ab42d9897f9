"""The store contract, on a real SQLite file (PostgreSQL will run the same tests)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest

from broker.store.base import Store
from broker.store.records import (
    ClientRecord,
    CodeRecord,
    GrantRecord,
    LogoutDelivery,
    SessionRecord,
    TokenRecord,
    TransactionRecord,
)
from broker.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SQLiteStore(tmp_path / "store.db")
    await s.open()
    yield s
    await s.close()


def grant(grant_id: str = "g1", sid: str | None = "s1", expires: float = NOW + 100) -> GrantRecord:
    return GrantRecord(
        grant_id=grant_id,
        client_id="portal",
        sub="u",
        sid=sid,
        scope=("openid",),
        nonce="n",
        auth_time=NOW,
        acr=None,
        amr=("dev",),
        claims={"name": "Tessa"},
        created_at=NOW,
        expires_at=expires,
    )


def code(code_hash: str = "c1", grant_id: str = "g1") -> CodeRecord:
    return CodeRecord(
        code_hash=code_hash,
        grant_id=grant_id,
        client_id="portal",
        redirect_uri="https://p/cb",
        code_challenge="x" * 43,
        code_challenge_method="S256",
        expires_at=NOW + 60,
    )


def token(token_hash: str, kind: str = "refresh", grant_id: str = "g1") -> TokenRecord:
    return TokenRecord(
        token_hash=token_hash,
        kind=kind,
        grant_id=grant_id,
        client_id="portal",
        sub="u",
        scope=("openid",),
        issued_at=NOW,
        expires_at=NOW + 100,
    )


async def test_migrations_apply_once(tmp_path: Path) -> None:
    for _ in range(2):
        s = SQLiteStore(tmp_path / "again.db")
        await s.open()
        await s.close()
    assert oct((tmp_path / "again.db").stat().st_mode & 0o777) == "0o600"


async def test_clients_round_trip(store: Store) -> None:
    client = ClientRecord(
        client_id="portal",
        client_name="Portal",
        redirect_uris=("https://p/cb",),
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": []},
    )
    await store.put_client(client)
    assert await store.get_client("portal") == client
    assert await store.list_clients() == [client]
    assert await store.delete_client("portal")
    assert not await store.delete_client("portal")
    assert await store.get_client("portal") is None


async def test_a_client_saved_before_the_identity_code_setting_loads_without_it(
    tmp_path: Path,
) -> None:
    """Clients are one JSON body each, so a new setting needs no migration: a body written
    before it loads with the default, which for the identity code is no."""
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    old = asdict(ClientRecord("old", "Old", ("https://p/cb",), "client_secret_basic"))
    del old["release_national_identity_code"]
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute(
            "INSERT INTO clients (client_id, body, created_at) VALUES (?, ?, 0)",
            ("old", json.dumps(old)),
        )
    loaded = await store.get_client("old")
    await store.close()
    assert loaded is not None and loaded.release_national_identity_code is False


async def test_code_is_single_use_even_when_redemptions_race(store: Store) -> None:
    await store.put_grant(grant(), code())
    outcomes = await asyncio.gather(*(store.consume_code("c1", NOW) for _ in range(10)))
    assert sum(1 for o in outcomes if o is not None and o.first_use) == 1
    assert await store.consume_code("unknown", NOW) is None


async def test_two_connections_share_single_use(tmp_path: Path) -> None:
    """Two broker processes on one database file: still exactly one redemption."""
    first, second = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    await first.open()
    await second.open()
    try:
        await first.put_grant(grant(), code())
        results = await asyncio.gather(
            first.consume_code("c1", NOW), second.consume_code("c1", NOW)
        )
        assert sorted(r.first_use for r in results if r) == [False, True]
    finally:
        await first.close()
        await second.close()


async def test_refresh_token_rotation_and_grant_revocation(store: Store) -> None:
    await store.put_grant(grant(), code())
    await store.put_tokens([token("r1"), token("a1", "access")])
    first = await store.consume_refresh_token("r1", NOW)
    assert first is not None and first.first_use
    again = await store.consume_refresh_token("r1", NOW)
    assert again is not None and not again.first_use
    assert await store.consume_refresh_token("a1", NOW) is None  # not a refresh token
    await store.revoke_grant("g1", NOW)
    revoked = await store.get_grant("g1")
    assert revoked is not None and revoked.revoked_at == NOW


async def test_jti_is_remembered_until_it_expires(store: Store) -> None:
    assert await store.remember_jti("portal", "j1", NOW + 60)
    assert not await store.remember_jti("portal", "j1", NOW + 60)
    assert await store.remember_jti("other", "j1", NOW + 60)
    await store.purge_expired(NOW + 61)
    assert await store.remember_jti("portal", "j1", NOW + 120)


async def test_transaction_delete_happens_once(store: Store) -> None:
    tx = TransactionRecord("t1", "portal", {"a": 1}, NOW, NOW + 60, {"step": "role"})
    await store.put_transaction(tx)
    assert await store.get_transaction("t1") == tx
    results = await asyncio.gather(*(store.delete_transaction("t1") for _ in range(5)))
    assert results.count(True) == 1


async def test_ending_a_session_revokes_its_grants_and_names_its_clients(store: Store) -> None:
    session = SessionRecord("s1", "u", NOW, None, ("dev",), {}, NOW, NOW + 100)
    await store.put_session(session)
    await store.put_grant(grant(), code())
    await store.add_session_client("s1", "portal")
    await store.add_session_client("s1", "portal")
    await store.add_session_client("s1", "other")
    assert await store.end_session("s1", NOW + 1) == ["other", "portal"]
    ended = await store.get_session("s1")
    assert ended is not None and ended.ended_at == NOW + 1
    revoked = await store.get_grant("g1")
    assert revoked is not None and revoked.revoked_at == NOW + 1


async def test_logout_outbox_leases_deliveries(store: Store) -> None:
    delivery = LogoutDelivery("d1", "portal", "https://p/bc", "u", "s1", 0, NOW)
    await store.enqueue_logouts([delivery])
    assert [d.delivery_id for d in await store.claim_due_logouts(NOW, 60, 10)] == ["d1"]
    assert await store.claim_due_logouts(NOW + 1, 60, 10) == []  # leased to the first taker
    await store.retry_logout("d1", 1, NOW + 5)
    assert await store.claim_due_logouts(NOW + 4, 60, 10) == []
    again = await store.claim_due_logouts(NOW + 5, 60, 10)
    assert again[0].attempts == 1
    await store.finish_logout("d1")
    assert await store.claim_due_logouts(NOW + 1000, 60, 10) == []


async def test_purge_removes_expired_grants_with_their_codes_and_tokens(store: Store) -> None:
    await store.put_grant(grant(expires=NOW + 10), code())
    await store.put_tokens([token("r1")])
    removed = await store.purge_expired(NOW + 11)
    assert removed >= 1
    assert await store.get_grant("g1") is None
    assert await store.get_token("r1") is None
    assert await store.consume_code("c1", NOW) is None


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
            async with mine._transaction() as db:  # e.g. the back-channel worker's claim
                await db.execute("SELECT COUNT(*) FROM logout_outbox")
                await release.wait()

        holder = asyncio.create_task(long_transaction())
        await asyncio.sleep(0.05)
        write = asyncio.create_task(mine.put_transaction(tx))
        await asyncio.sleep(0.05)
        assert not write.done()  # it waits for the transaction instead of joining it
        release.set()
        await asyncio.gather(holder, write)
        assert await other.get_transaction("t1") == tx
    finally:
        await mine.close()
        await other.close()


async def test_rate_counters_count_per_window_across_connections_and_are_purged(
    tmp_path: Path,
) -> None:
    """Two processes' connections count into one counter (the limit holds across replicas)."""
    first, second = SQLiteStore(tmp_path / "b.db"), SQLiteStore(tmp_path / "b.db")
    await first.open()
    await second.open()
    try:
        counts = await asyncio.gather(
            *(s.count_hit("c", 600, NOW + 60) for s in [first, second] * 10)
        )
        assert sorted(counts) == list(range(1, 21))
        assert await first.count_hit("c", 660, NOW + 120) == 1  # the next window starts over
        assert await first.count_hit("d", 600, NOW + 60) == 1
        assert await first.purge_expired(NOW + 61) == 2
        assert await second.count_hit("c", 660, NOW + 120) == 2
    finally:
        await first.close()
        await second.close()
