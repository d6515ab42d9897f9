"""SSO sessions, called directly: when a portal's request may reuse one (prompt, max_age,
acr_values), and when a session is no longer active."""

from __future__ import annotations

import pytest

from broker.store.records import UpstreamSession
from tests.frontend.oidc.conftest import T0, Parts, authorization_request

LOA3 = "http://ftn.ficora.fi/2017/loa3"


async def test_a_session_is_stored_with_its_lifetime_and_upstream(parts: Parts) -> None:
    upstream = UpstreamSession("suomifi", "name-id", session_index="ix")
    session = await parts.sessions.start(
        "sub", acr=LOA3, amr=("x",), claims={"a": 1}, upstream=upstream
    )

    assert (session.created_at, session.expires_at) == (T0, T0 + parts.ttl.session_ttl)
    assert session.auth_time == T0
    assert await parts.store.sessions.get(session.sid) == session
    assert await parts.store.sessions.get_upstream_session(session.sid) == upstream


async def test_auth_time_is_the_idps_but_never_later_than_now(parts: Parts) -> None:
    earlier = await parts.sessions.start("s", acr=None, amr=(), claims={}, auth_time=T0 - 99)
    later = await parts.sessions.start("s", acr=None, amr=(), claims={}, auth_time=T0 + 99)

    assert (earlier.auth_time, later.auth_time) == (T0 - 99, T0)


async def test_a_session_is_active_until_it_expires_or_ends(parts: Parts) -> None:
    session = await parts.session()

    assert await parts.sessions.active(session.sid) == session
    assert await parts.sessions.active(None) is None
    assert await parts.sessions.active("") is None
    assert await parts.sessions.active("unknown") is None
    parts.clock.advance(parts.ttl.session_ttl - 0.001)
    assert await parts.sessions.active(session.sid) == session
    parts.clock.advance(0.001)
    assert await parts.sessions.active(session.sid) is None


async def test_an_ended_session_is_not_active(parts: Parts) -> None:
    session = await parts.session()

    await parts.sessions.end(session.sid)

    assert await parts.sessions.active(session.sid) is None


async def test_updated_claims_reach_later_portals(parts: Parts) -> None:
    session = await parts.session()

    await parts.sessions.update_claims(session, {"name": "New"})

    stored = await parts.store.sessions.get(session.sid)
    assert stored is not None
    assert stored.claims == {"name": "New"}


@pytest.mark.parametrize("prompt", [("login",), ("select_account",), ("none", "login")])
async def test_prompt_login_or_select_account_needs_a_new_login(
    parts: Parts, prompt: tuple[str, ...]
) -> None:
    session = await parts.session()

    assert parts.sessions.satisfies(session, authorization_request()) is True
    assert parts.sessions.satisfies(session, authorization_request(prompt=prompt)) is False
    assert parts.sessions.satisfies(session, authorization_request(prompt=("none",))) is True


async def test_max_age_counts_from_the_authentication(parts: Parts) -> None:
    session = await parts.session()  # authenticated 30 s before T0

    assert parts.sessions.satisfies(session, authorization_request(max_age=30)) is True
    assert parts.sessions.satisfies(session, authorization_request(max_age=29)) is False
    assert parts.sessions.satisfies(session, authorization_request(max_age=0)) is False


async def test_acr_values_must_include_the_sessions_acr(parts: Parts) -> None:
    session = await parts.session()
    other = "http://ftn.ficora.fi/2017/loa2"

    assert parts.sessions.satisfies(session, authorization_request(acr_values=(other, LOA3)))
    assert not parts.sessions.satisfies(session, authorization_request(acr_values=(other,)))
    bare = await parts.sessions.start("s", acr=None, amr=(), claims={})
    assert not parts.sessions.satisfies(bare, authorization_request(acr_values=(LOA3,)))
    assert parts.sessions.satisfies(bare, authorization_request())
