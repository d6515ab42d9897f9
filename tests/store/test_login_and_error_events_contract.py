"""The authentication audit trail and the error events, on each backend."""

from __future__ import annotations

from typing import Any

from broker.store.base import Store
from broker.store.error_events import ErrorEvent
from broker.store.login_events import LoginEvent

NOW = 1_800_000_000.0


def login(at: float, account: str | None, client: str | None, **fields: Any) -> LoginEvent:
    return LoginEvent(at=at, account_id=account, client_id=client, **fields)


async def test_login_events_are_exported_by_time_account_and_portal(store: Store) -> None:
    done = login(NOW, "acc-1", "portal", outcome="completed", idp_id="hus", acr="loa2")
    refused = login(NOW + 1, None, "portal", outcome="failed", reason="upstream_response_refused")
    other = login(NOW + 2, "acc-2", "other", outcome="completed", route="sso")
    for event in (other, refused, done):
        await store.login_events.add(event)

    assert await store.login_events.export() == [done, refused, other]
    assert await store.login_events.export(since=NOW + 1) == [refused, other]
    assert await store.login_events.export(account_id="acc-1") == [done]
    assert await store.login_events.export(client_id="portal") == [done, refused]
    assert await store.login_events.export(NOW + 1, client_id="portal") == [refused]


async def test_login_events_are_purged_past_their_retention(store: Store) -> None:
    await store.login_events.add(login(NOW - 10, "old", "portal", outcome="completed"))
    await store.login_events.add(login(NOW, "new", "portal", outcome="completed"))
    assert await store.login_events.purge(NOW - 5) == 1
    assert [e.account_id for e in await store.login_events.export()] == ["new"]


def error(error_id: str, at: float) -> ErrorEvent:
    return ErrorEvent(
        error_id=error_id,
        at=at,
        path="/upstream/saml/acs",
        status=400,
        error="UpstreamResponseError",
        message_id="error.upstream_response",
        idp_id="suomifi",
    )


async def test_error_events_are_found_by_id_newest_first_and_purged(store: Store) -> None:
    """Short random ids may repeat over the retention: both are shown, none refused."""
    first, again, other = error("0a1b2c3d", NOW), error("0a1b2c3d", NOW + 5), error("ffff0000", NOW)
    for event in (first, again, other):
        await store.error_events.add(event)
    assert await store.error_events.find("0a1b2c3d") == [again, first]
    assert await store.error_events.find("00000000") == []
    assert await store.error_events.purge(NOW + 1) == 2
    assert await store.error_events.find("0a1b2c3d") == [again]
