"""Refresh rotation and reuse detection, userinfo, revocation (RFC 7009), introspection (7662)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from broker.cli import main
from tests.brokers import BACKENDS, RunningBroker
from tests.login_walk import HUS_USER_NAME, log_in
from tests.portal_client import callback_params, portal_client, redeem, start


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """These flows run on SQLite and on PostgreSQL."""
    return str(request.param)


async def tokens(
    broker: RunningBroker, browser: httpx.AsyncClient, **params: str
) -> dict[str, Any]:
    client = portal_client(broker)
    auth = await start(client, **params)
    response = await log_in(browser, broker, auth.url)
    return await redeem(client, auth, callback_params(response.headers["location"])["code"])


async def refresh(
    broker: RunningBroker, browser: httpx.AsyncClient, value: str, **extra: str
) -> httpx.Response:
    return await browser.post(
        broker.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": value, **extra},
        auth=("portal", broker.secrets["portal"]),
    )


async def userinfo(
    broker: RunningBroker, browser: httpx.AsyncClient, access: str
) -> httpx.Response:
    return await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {access}"}
    )


async def test_refresh_rotates_and_reuse_revokes_the_family(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    first = await tokens(broker, browser)
    rotated = await refresh(broker, browser, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["id_token"] and "nonce" not in second  # nonce is never a token field
    assert (await userinfo(broker, browser, second["access_token"])).status_code == 200

    reuse = await refresh(broker, browser, first["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # the whole family is gone: the newest refresh token and its access token too
    assert (await refresh(broker, browser, second["refresh_token"])).status_code == 400
    assert (await userinfo(broker, browser, second["access_token"])).status_code == 401


async def test_refresh_can_narrow_scope_but_not_widen_it(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    first = await tokens(broker, browser)
    wider = await refresh(broker, browser, first["refresh_token"], scope="openid profile phone")
    assert wider.json()["error"] == "invalid_scope"
    first = await tokens(broker, browser)
    narrow = await refresh(broker, browser, first["refresh_token"], scope="openid")
    assert narrow.json()["scope"] == "openid"
    info = (await userinfo(broker, browser, narrow.json()["access_token"])).json()
    assert "email" not in info and "name" not in info
    again = await refresh(broker, browser, narrow.json()["refresh_token"])
    assert again.json()["scope"] == "openid profile email"


async def test_refresh_token_of_another_client_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    await broker.add_client("other")
    first = await tokens(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=("other", broker.secrets["other"]),
    )
    assert response.json()["error"] == "invalid_grant"


async def test_a_leaked_refresh_token_presented_by_a_public_client_is_not_burnt(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """Presented under a public client id (anyone can claim one), a leaked refresh token stays
    unused: the real portal's next refresh is no replay and the grant lives on."""
    await broker.add_client()
    await broker.add_client("spa", token_endpoint_auth_method="none")
    first = await tokens(broker, browser)
    stolen = await browser.post(
        broker.url + "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "spa",
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    rotated = await refresh(broker, browser, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert (await userinfo(broker, browser, first["access_token"])).status_code == 200
    assert (await refresh(broker, browser, rotated.json()["refresh_token"])).status_code == 200


async def test_removing_a_client_revokes_its_tokens(
    broker: RunningBroker, browser: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`clients remove`: the portal's tokens die with it, and a client registered again under
    the same id inherits none of them."""
    await broker.add_client()
    first = await tokens(broker, browser)
    config = tmp_path / "cli.yaml"
    config.write_text(yaml.safe_dump(broker.settings.model_dump(mode="json")))
    with contextlib.redirect_stdout(io.StringIO()):  # the CLI runs its own event loop
        removed = await asyncio.to_thread(
            main, ["--config", str(config), "clients", "remove", "portal"]
        )
    assert removed == 0
    assert (await userinfo(broker, browser, first["access_token"])).status_code == 401
    await broker.add_client()
    again = await refresh(broker, browser, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_expired_refresh_token_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    first = await tokens(broker, browser)
    broker.clock.advance(broker.settings.tokens.refresh_token_ttl + 1)
    assert (await refresh(broker, browser, first["refresh_token"])).status_code == 400


async def test_client_without_refresh_grant_gets_no_refresh_token(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client(grant_types=("authorization_code",))
    assert "refresh_token" not in await tokens(broker, browser)


async def test_userinfo_refusals_carry_bearer_challenges(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    bare = await browser.get(broker.url + "/userinfo")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="sote-broker"'
    wrong = await userinfo(broker, browser, "not-a-token")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    first = await tokens(broker, browser)
    broker.clock.advance(broker.settings.tokens.access_token_ttl + 1)
    expired = await userinfo(broker, browser, first["access_token"])
    assert expired.status_code == 401


async def test_userinfo_by_post_and_refresh_token_is_not_an_access_token(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    first = await tokens(broker, browser)
    posted = await browser.post(
        broker.url + "/userinfo", data={"access_token": first["access_token"]}
    )
    assert posted.status_code == 200
    assert posted.json()["name"] == HUS_USER_NAME
    assert (await userinfo(broker, browser, first["refresh_token"])).status_code == 401


async def test_revocation_of_access_and_refresh_tokens(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    secret = broker.secrets["portal"]
    first = await tokens(broker, browser)
    revoked = await browser.post(
        broker.url + "/revoke", data={"token": first["access_token"]}, auth=("portal", secret)
    )
    assert revoked.status_code == 200
    assert (await userinfo(broker, browser, first["access_token"])).status_code == 401
    assert (await refresh(broker, browser, first["refresh_token"])).status_code == 200

    second = await tokens(broker, browser)
    await browser.post(
        broker.url + "/revoke",
        data={"token": second["refresh_token"], "token_type_hint": "refresh_token"},
        auth=("portal", secret),
    )
    assert (await refresh(broker, browser, second["refresh_token"])).status_code == 400
    assert (await userinfo(broker, browser, second["access_token"])).status_code == 401

    unknown = await browser.post(
        broker.url + "/revoke", data={"token": "unknown"}, auth=("portal", secret)
    )
    assert unknown.status_code == 200  # RFC 7009 §2.2


async def test_revocation_needs_client_authentication(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    await broker.add_client("other")
    first = await tokens(broker, browser)
    anonymous = await browser.post(broker.url + "/revoke", data={"token": first["access_token"]})
    assert anonymous.status_code == 401
    other = await browser.post(
        broker.url + "/revoke",
        data={"token": first["access_token"]},
        auth=("other", broker.secrets["other"]),
    )
    assert other.status_code == 400
    assert (await userinfo(broker, browser, first["access_token"])).status_code == 200


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_introspection_answers_only_the_owner(
    broker: RunningBroker, browser: httpx.AsyncClient, kind: str
) -> None:
    await broker.add_client()
    await broker.add_client("other")
    first = await tokens(broker, browser)
    mine = await browser.post(
        broker.url + "/introspect",
        data={"token": first[kind]},
        auth=("portal", broker.secrets["portal"]),
    )
    body = mine.json()
    assert body["active"] is True
    assert len(body["sub"]) == 32
    assert body["client_id"] == "portal"
    assert body["scope"] == "openid profile email"
    theirs = await browser.post(
        broker.url + "/introspect",
        data={"token": first[kind]},
        auth=("other", broker.secrets["other"]),
    )
    assert theirs.json() == {"active": False}
    anonymous = await browser.post(broker.url + "/introspect", data={"token": first[kind]})
    assert anonymous.status_code == 401


async def test_introspection_of_revoked_or_expired_tokens(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    secret = broker.secrets["portal"]
    first = await tokens(broker, browser)
    await browser.post(
        broker.url + "/revoke", data={"token": first["access_token"]}, auth=("portal", secret)
    )
    revoked = await browser.post(
        broker.url + "/introspect", data={"token": first["access_token"]}, auth=("portal", secret)
    )
    assert revoked.json() == {"active": False}
    broker.clock.advance(broker.settings.tokens.refresh_token_ttl + 1)
    expired = await browser.post(
        broker.url + "/introspect", data={"token": first["refresh_token"]}, auth=("portal", secret)
    )
    assert expired.json() == {"active": False}
