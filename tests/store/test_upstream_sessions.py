"""The store's part of single logout: the IdP's session behind an SSO session, and the logouts
waiting for an IdP's answer (the same contract for every backend)."""

from __future__ import annotations

from broker.store.base import Store
from broker.store.records import SessionRecord, UpstreamLogout, UpstreamSession

NOW = 1_800_000_000.0
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def upstream(name_id: str = "_n1", index: str | None = "_i1") -> UpstreamSession:
    return UpstreamSession("suomifi", name_id, TRANSIENT, "https://idp", "https://sp", index)


async def session(store: Store, sid: str, expires: float = NOW + 100) -> None:
    await store.sessions.put(SessionRecord(sid, "u", NOW, None, (), {}, NOW, expires))


async def test_the_upstream_session_is_kept_with_the_sso_session(store: Store) -> None:
    await session(store, "s1")
    await store.sessions.put_upstream_session("s1", upstream())
    assert await store.sessions.get_upstream_session("s1") == upstream()
    assert await store.sessions.get_upstream_session("s2") is None
    assert "_n1" not in repr(upstream())  # a NameID is never in a log line by accident


async def test_sessions_are_found_by_name_id_and_session_index_while_not_ended(
    store: Store,
) -> None:
    for sid, index in (("s1", "_i1"), ("s2", "_i2"), ("s3", None)):
        await session(store, sid)
        await store.sessions.put_upstream_session(sid, upstream(index=index))
    await session(store, "other")
    await store.sessions.put_upstream_session("other", upstream(name_id="_n2"))
    assert await store.sessions.find_upstream_sessions("suomifi", "_n1", ()) == ["s1", "s2", "s3"]
    assert await store.sessions.find_upstream_sessions("suomifi", "_n1", ("_i2",)) == ["s2"]
    assert await store.sessions.find_upstream_sessions("hus", "_n1", ()) == []
    await store.sessions.end("s1", NOW + 1)
    assert await store.sessions.find_upstream_sessions("suomifi", "_n1", ("_i1", "_i2")) == ["s2"]


async def test_a_pending_logout_is_answered_once_and_purged_when_expired(store: Store) -> None:
    target = {"redirect_uri": "https://portal/bye", "state": "s"}
    logout = UpstreamLogout("relay-1", "suomifi", "_req", target, NOW, NOW + 60)
    await store.sessions.put_upstream_logout(logout)
    assert await store.sessions.get_upstream_logout("relay-1") == logout
    assert await store.sessions.finish_upstream_logout("relay-1")
    assert not await store.sessions.finish_upstream_logout("relay-1")
    assert await store.sessions.get_upstream_logout("relay-1") is None
    await store.sessions.put_upstream_logout(
        UpstreamLogout("relay-2", "suomifi", "_r", {}, NOW, NOW + 60)
    )
    await store.purge_expired(NOW + 61)
    assert await store.sessions.get_upstream_logout("relay-2") is None


async def test_the_upstream_session_goes_with_its_expired_sso_session(store: Store) -> None:
    await session(store, "s1", expires=NOW + 10)
    await store.sessions.put_upstream_session("s1", upstream())
    await store.purge_expired(NOW + 11)
    assert await store.sessions.get_upstream_session("s1") is None
