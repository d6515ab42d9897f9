"""The store contract, on each backend (a real SQLite file, a real PostgreSQL database)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import asdict

from broker.store import migrations
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
from tests.store.conftest import StoreFactory

NOW = 1_800_000_000.0


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


async def test_migrations_apply_once(store_factory: StoreFactory) -> None:
    for _ in range(2):
        s = store_factory()
        await s.open()
        assert await s.migrate() == []
        rows = await s.connection.all("SELECT version FROM schema_migrations")
        await s.close()
    assert sorted(row["version"] for row in rows) == [v for v, _, _ in migrations.load("sqlite")]


async def test_clients_round_trip(store: Store) -> None:
    client = ClientRecord(
        client_id="portal",
        client_name="Portal",
        redirect_uris=("https://p/cb",),
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": []},
    )
    await store.clients.put(client)
    assert await store.clients.get("portal") == client
    assert await store.clients.all() == [client]
    assert await store.clients.delete("portal", NOW)
    assert not await store.clients.delete("portal", NOW)
    assert await store.clients.get("portal") is None


async def test_a_client_saved_before_the_identity_code_setting_loads_without_it(
    store: Store,
) -> None:
    """Clients are one JSON body each, so a new setting needs no migration: a body written
    before it loads with the default, which for the identity code is no."""
    old = asdict(ClientRecord("old", "Old", ("https://p/cb",), "client_secret_basic"))
    del old["release_national_identity_code"]
    await store.connection.run(
        "INSERT INTO clients (client_id, body, created_at) VALUES (?, ?, 0)",
        ("old", json.dumps(old)),
    )
    loaded = await store.clients.get("old")
    assert loaded is not None and loaded.release_national_identity_code is False


async def test_code_is_single_use_even_when_redemptions_race(store: Store) -> None:
    await store.grants.put_grant(grant(), code())
    outcomes = await asyncio.gather(
        *(store.grants.consume_code("c1", "portal", NOW) for _ in range(10))
    )
    assert sum(1 for o in outcomes if o is not None and o.first_use) == 1
    assert await store.grants.consume_code("unknown", "portal", NOW) is None


async def test_two_connections_share_single_use(store_factory: StoreFactory) -> None:
    """Two broker processes on one database: still exactly one redemption."""
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        await first.grants.put_grant(grant(), code())
        results = await asyncio.gather(
            first.grants.consume_code("c1", "portal", NOW),
            second.grants.consume_code("c1", "portal", NOW),
        )
        assert sorted(r.first_use for r in results if r) == [False, True]
    finally:
        await first.close()
        await second.close()


async def test_refresh_token_rotation_and_grant_revocation(store: Store) -> None:
    await store.grants.put_grant(grant(), code())
    await store.grants.put_tokens([token("r1"), token("a1", "access")])
    first = await store.grants.consume_refresh_token("r1", "portal", NOW)
    assert first is not None and first.first_use
    again = await store.grants.consume_refresh_token("r1", "portal", NOW)
    assert again is not None and not again.first_use
    assert (
        await store.grants.consume_refresh_token("a1", "portal", NOW) is None
    )  # not a refresh token
    await store.grants.revoke_grant("g1", NOW)
    revoked = await store.grants.get_grant("g1")
    assert revoked is not None and revoked.revoked_at == NOW


async def test_another_clients_code_or_refresh_token_is_left_unused(store: Store) -> None:
    """Presented by a client it was not issued to, a code or refresh token is unknown and stays
    unused: its owner's redemption is still the first (and revokes nothing)."""
    await store.grants.put_grant(grant(), code())
    await store.grants.put_tokens([token("r1")])
    assert await store.grants.consume_code("c1", "intruder", NOW) is None
    assert await store.grants.consume_refresh_token("r1", "intruder", NOW) is None
    redeemed = await store.grants.consume_code("c1", "portal", NOW)
    assert redeemed is not None and redeemed.first_use
    refreshed = await store.grants.consume_refresh_token("r1", "portal", NOW)
    assert refreshed is not None and refreshed.first_use


async def test_deleting_a_client_revokes_its_grants(store: Store) -> None:
    await store.clients.put(ClientRecord("portal", "Portal", ("https://p/cb",), "none"))
    await store.grants.put_grant(grant(), code())
    other = grant("g2")
    await store.grants.put_grant(
        GrantRecord(**{**asdict(other), "client_id": "other"}), code("c2", "g2")
    )
    assert await store.clients.delete("portal", NOW)
    revoked, kept = await store.grants.get_grant("g1"), await store.grants.get_grant("g2")
    assert revoked is not None and revoked.revoked_at == NOW
    assert kept is not None and kept.revoked_at is None


async def test_the_store_says_whether_it_holds_identities(store: Store) -> None:
    """What a missing subject key would orphan: accounts, SSO sessions, grants."""
    await store.clients.put(ClientRecord("portal", "Portal", ("https://p/cb",), "none"))
    assert not await store.holds_identities()  # clients alone are no identities
    await store.sessions.put(SessionRecord("s1", "u", NOW, None, (), {}, NOW, NOW + 60))
    assert await store.holds_identities()


async def test_jti_is_remembered_until_it_expires(store: Store) -> None:
    assert await store.replay.remember_jti("portal", "j1", NOW + 60)
    assert not await store.replay.remember_jti("portal", "j1", NOW + 60)
    assert await store.replay.remember_jti("other", "j1", NOW + 60)
    await store.purge_expired(NOW + 61)
    assert await store.replay.remember_jti("portal", "j1", NOW + 120)


async def test_transaction_delete_happens_once(store: Store) -> None:
    tx = TransactionRecord("t1", "portal", {"a": 1}, NOW, NOW + 60, {"step": "role"})
    await store.transactions.put(tx)
    assert await store.transactions.get("t1") == tx
    results = await asyncio.gather(*(store.transactions.delete("t1") for _ in range(5)))
    assert results.count(True) == 1


async def test_a_transaction_is_found_by_its_relay_state_hash_until_cleared(store: Store) -> None:
    waiting = TransactionRecord("t1", "portal", {}, NOW, NOW + 60, {}, relay_hash="r1")
    await store.transactions.put(waiting)
    await store.transactions.put(TransactionRecord("t2", "portal", {}, NOW, NOW + 60))
    assert await store.transactions.get_by_relay("r1") == waiting
    assert await store.transactions.get_by_relay("r2") is None
    await store.transactions.put(dataclasses.replace(waiting, relay_hash=None))
    assert await store.transactions.get_by_relay("r1") is None
    assert (await store.transactions.get("t1")) == dataclasses.replace(waiting, relay_hash=None)


async def test_ending_a_session_revokes_its_grants_and_names_its_clients(store: Store) -> None:
    session = SessionRecord("s1", "u", NOW, None, ("dev",), {}, NOW, NOW + 100)
    await store.sessions.put(session)
    await store.grants.put_grant(grant(), code())
    await store.sessions.add_client("s1", "portal")
    await store.sessions.add_client("s1", "portal")
    await store.sessions.add_client("s1", "other")
    assert await store.sessions.end("s1", NOW + 1) == ["other", "portal"]
    ended = await store.sessions.get("s1")
    assert ended is not None and ended.ended_at == NOW + 1
    revoked = await store.grants.get_grant("g1")
    assert revoked is not None and revoked.revoked_at == NOW + 1


async def test_logout_outbox_leases_deliveries(store: Store) -> None:
    delivery = LogoutDelivery("d1", "portal", "https://p/bc", "u", "s1", 0, NOW)
    await store.outbox.enqueue([delivery])
    assert [d.delivery_id for d in await store.outbox.claim_due(NOW, 60, 10)] == ["d1"]
    assert await store.outbox.claim_due(NOW + 1, 60, 10) == []  # leased to the first taker
    await store.outbox.retry("d1", 1, NOW + 5)
    assert await store.outbox.claim_due(NOW + 4, 60, 10) == []
    again = await store.outbox.claim_due(NOW + 5, 60, 10)
    assert again[0].attempts == 1
    await store.outbox.finish("d1")
    assert await store.outbox.claim_due(NOW + 1000, 60, 10) == []


async def test_purge_removes_expired_grants_with_their_codes_and_tokens(store: Store) -> None:
    await store.grants.put_grant(grant(expires=NOW + 10), code())
    await store.grants.put_tokens([token("r1")])
    removed = await store.purge_expired(NOW + 11)
    assert removed >= 1
    assert await store.grants.get_grant("g1") is None
    assert await store.grants.get_token("r1") is None
    assert await store.grants.consume_code("c1", "portal", NOW) is None


async def test_replicas_claim_each_delivery_once(store_factory: StoreFactory) -> None:
    """Two replicas' back-channel workers claiming at the same moment never share a delivery."""
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        due = [LogoutDelivery(f"d{n}", "p", "https://p/bc", "u", "s", 0, NOW) for n in range(20)]
        await first.outbox.enqueue(due)
        claims = await asyncio.gather(
            *(s.outbox.claim_due(NOW, 60, 5) for _ in range(4) for s in (first, second))
        )
    finally:
        await first.close()
        await second.close()
    claimed = [d.delivery_id for batch in claims for d in batch]
    assert sorted(claimed) == sorted(f"d{n}" for n in range(20))


async def test_ending_a_subject_ends_all_its_sessions_and_revokes_all_its_grants(
    store: Store,
) -> None:
    """Grants are found by each portal's own subject too: one may outlive its session's row."""
    for sid, sub in (("s1", "acc"), ("s2", "acc"), ("s3", "someone-else")):
        await store.sessions.put(
            SessionRecord(sid, sub, NOW, None, ("pwd",), {"name": "T"}, NOW, NOW + 100)
        )
    await store.sessions.add_client("s1", "portal")
    await store.sessions.add_client("s2", "other")
    await store.grants.put_grant(grant("g1", sid="s1"), code("c1", "g1"))  # grant() has sub "u"
    await store.grants.put_grant(grant("g2", sid="gone-session"), code("c2", "g2"))
    await store.grants.put_grant(
        dataclasses.replace(grant("g3", sid="s3"), sub="v"), code("c3", "g3")
    )
    ended = await store.sessions.end_subject("acc", [("portal", "u")], NOW + 1)
    assert sorted(ended) == [("s1", ["portal"]), ("s2", ["other"])]
    for sid in ("s1", "s2"):
        session = await store.sessions.get(sid)
        assert session is not None and session.ended_at == NOW + 1 and session.claims == {}
    other = await store.sessions.get("s3")
    assert other is not None and other.ended_at is None
    for grant_id in ("g1", "g2"):
        revoked = await store.grants.get_grant(grant_id)
        assert revoked is not None and revoked.revoked_at == NOW + 1 and revoked.claims == {}
    kept = await store.grants.get_grant("g3")
    assert kept is not None and kept.revoked_at is None
    assert await store.sessions.end_subject("acc", [], NOW + 2) == []


async def test_rate_counters_count_per_window_across_connections_and_are_purged(
    store_factory: StoreFactory,
) -> None:
    """Two processes' connections count into one counter (the limit holds across replicas)."""
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        counts = await asyncio.gather(
            *(s.rate_limits.count_hit("c", 600, NOW + 60) for s in [first, second] * 10)
        )
        assert sorted(counts) == list(range(1, 21))
        assert (
            await first.rate_limits.count_hit("c", 660, NOW + 120) == 1
        )  # the next window starts over
        assert await first.rate_limits.count_hit("d", 600, NOW + 60) == 1
        assert await first.purge_expired(NOW + 61) == 2
        assert await second.rate_limits.count_hit("c", 660, NOW + 120) == 2
    finally:
        await first.close()
        await second.close()


async def test_a_portal_policy_round_trips_and_a_body_from_before_has_none(store: Store) -> None:
    """The portal policy lives in the client's body like every other setting (no migration):
    it round-trips on both backends, and a body written before it loads with "everything"."""
    client = ClientRecord(
        "wellbeing",
        "Hyvinvointialueen portaali",
        ("https://p/cb",),
        "none",
        routes=("organisation",),
        idps=("pirha", "tyks"),
        default_acr="http://ftn.ficora.fi/2017/loa2",
        minimum_acr="http://ftn.ficora.fi/2017/loa3",
        policy_uri="https://p/tietosuoja",
    )
    await store.clients.put(client)
    assert await store.clients.get("wellbeing") == client
    old = asdict(ClientRecord("old", "Old", ("https://p/cb",), "none"))
    for key in ("routes", "idps", "default_acr", "minimum_acr", "policy_uri"):
        del old[key]
    await store.connection.run(
        "INSERT INTO clients (client_id, body, created_at) VALUES (?, ?, 0)",
        ("old", json.dumps(old)),
    )
    loaded = await store.clients.get("old")
    assert loaded == ClientRecord("old", "Old", ("https://p/cb",), "none")
