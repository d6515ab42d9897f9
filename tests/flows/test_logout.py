"""RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 against real portal servers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import Signer
from joserfc import jwt
from joserfc.jwk import KeySet

from broker.frontend.oidc.keys import KeyRing
from broker.http.cookies import SESSION, CookieSigner
from broker.secret_files import load_keys
from broker.store.records import SessionRecord
from broker.store.sqlite import SQLiteStore
from tests.brokers import RunningBroker
from tests.flows.conftest import LogoutReceiver, wait_for
from tests.jwt_tools import tamper
from tests.login_walk import log_in
from tests.portal_client import callback_params, portal_client, redeem, start

LOGGED_OUT = "http://127.0.0.1:9/logged-out"


async def logged_in(
    broker: RunningBroker, browser: httpx.AsyncClient, client_id: str = "portal"
) -> dict[str, Any]:
    client = portal_client(broker, client_id)
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    return await redeem(client, auth, callback_params(response.headers["location"])["code"])


async def verified(broker: RunningBroker, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        keys = KeySet.import_key_set((await http.get(broker.url + "/jwks")).json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


async def test_rp_initiated_logout_with_hint_redirects_with_state_and_ends_the_session(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    token = await logged_in(broker, browser)
    response = await browser.get(
        broker.url + "/end_session",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "bye-1",
        },
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(LOGGED_OUT)
    assert parse_qs(urlsplit(location).query) == {"state": ["bye-1"]}
    silent = await browser.get((await start(portal_client(broker), prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"
    refreshed = await browser.post(
        broker.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=("portal", broker.secrets["portal"]),
    )
    assert refreshed.json()["error"] == "invalid_grant"


async def test_back_channel_logout_reaches_every_portal_in_the_session(
    broker: RunningBroker, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    await broker.add_client(backchannel_logout_uri=receiver.url)
    await broker.add_client("second", backchannel_logout_uri=receiver.url)
    await broker.add_client("quiet")
    first = await logged_in(broker, browser)
    second = await logged_in(broker, browser, "second")
    await logged_in(broker, browser, "quiet")
    response = await browser.get(
        broker.url + "/end_session", params={"id_token_hint": first["id_token"]}
    )
    assert response.status_code == 200
    assert 'lang="fi"' in response.text
    await wait_for(lambda: len(receiver.tokens) == 2)
    _, id_claims = await verified(broker, second["id_token"])
    audiences = set()
    for logout_token in receiver.tokens:
        header, claims = await verified(broker, logout_token)
        assert header["typ"] == "logout+jwt"
        assert claims["iss"] == broker.url
        assert claims["sid"] == id_claims["sid"]
        assert claims["sub"] == id_claims["sub"]
        assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
        assert "nonce" not in claims
        assert claims["jti"]
        audiences.add(claims["aud"])
    assert audiences == {"portal", "second"}


async def test_failed_back_channel_delivery_is_retried(
    broker: RunningBroker, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    receiver.failures_left = 1
    await broker.add_client(backchannel_logout_uri=receiver.url)
    token = await logged_in(broker, browser)
    await browser.get(broker.url + "/end_session", params={"id_token_hint": token["id_token"]})
    await wait_for(lambda: len(receiver.tokens) == 1)
    await asyncio.sleep(0.3)
    assert len(receiver.tokens) == 1  # the retry waits for its back-off
    broker.clock.advance(broker.settings.backchannel.retry_base_seconds + 1)
    await wait_for(lambda: len(receiver.tokens) == 2)


async def test_slow_portal_does_not_hold_up_the_users_logout(
    broker: RunningBroker, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    receiver.release = threading.Event()
    await broker.add_client(backchannel_logout_uri=receiver.url)
    token = await logged_in(broker, browser)
    try:
        response = await browser.get(
            broker.url + "/end_session",
            params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGGED_OUT},
        )
        assert response.status_code == 303
        await wait_for(receiver.received.is_set)
    finally:
        receiver.release.set()


@pytest.mark.parametrize(
    "params",
    [
        {"post_logout_redirect_uri": "https://evil.example/"},
        {"post_logout_redirect_uri": LOGGED_OUT, "client_id": "nobody"},
        {"post_logout_redirect_uri": LOGGED_OUT + "/../evil"},
        {"post_logout_redirect_uri": "//evil.example/", "client_id": "portal"},
        {"post_logout_redirect_uri": "https://evil.example/", "client_id": "portal"},
        # the client is known, so only an exact comparison refuses these (no prefix matching)
        {"post_logout_redirect_uri": LOGGED_OUT + "x", "client_id": "portal"},
        {"post_logout_redirect_uri": LOGGED_OUT + "/../evil", "client_id": "portal"},
        {
            "post_logout_redirect_uri": LOGGED_OUT + "?next=https://evil.example",
            "client_id": "portal",
        },
    ],
)
async def test_open_redirects_via_post_logout_redirect_uri_are_refused(
    broker: RunningBroker, browser: httpx.AsyncClient, params: dict[str, str]
) -> None:
    await broker.add_client()
    response = await browser.get(broker.url + "/end_session", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_tampered_or_foreign_id_token_hint_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    token = await logged_in(broker, browser)
    for hint in (tamper(token["id_token"], aud="other"), "not.a.jwt", token["id_token"] + "x"):
        response = await browser.get(
            broker.url + "/end_session",
            params={"id_token_hint": hint, "post_logout_redirect_uri": LOGGED_OUT},
        )
        assert response.status_code == 400, hint
        assert "location" not in response.headers


@pytest.mark.parametrize(
    "target", [LOGGED_OUT + "x", LOGGED_OUT + "/../evil", LOGGED_OUT + "?next=https://evil.example"]
)
async def test_near_miss_redirect_uri_is_refused_with_a_valid_hint(
    broker: RunningBroker, browser: httpx.AsyncClient, target: str
) -> None:
    await broker.add_client()
    token = await logged_in(broker, browser)
    response = await browser.get(
        broker.url + "/end_session",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": target},
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_hint_signed_by_the_broker_for_another_issuer_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """The broker's key alone does not make a hint: its `iss` must be this broker."""
    await broker.add_client()
    token = await logged_in(broker, browser)
    _, claims = await verified(broker, token["id_token"])
    keys = KeyRing(broker.settings.keys.directory, broker.clock)
    keys.load()
    foreign = keys.sign_jwt({**claims, "iss": "https://evil.example"}, "RS256", typ="JWT")
    response = await browser.get(
        broker.url + "/end_session",
        params={"id_token_hint": foreign, "post_logout_redirect_uri": LOGGED_OUT},
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    silent = await browser.get((await start(portal_client(broker), prompt="none")).url)
    assert "code" in callback_params(silent.headers["location"])  # the session was not ended


async def test_hint_and_client_id_must_agree(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    await broker.add_client("other", post_logout_redirect_uris=("https://other.example/bye",))
    token = await logged_in(broker, browser)
    response = await browser.get(
        broker.url + "/end_session",
        params={
            "id_token_hint": token["id_token"],
            "client_id": "other",
            "post_logout_redirect_uri": "https://other.example/bye",
        },
    )
    assert response.status_code == 400


async def test_logout_without_hint_asks_for_confirmation_with_csrf(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    await logged_in(broker, browser)
    asked = await browser.get(
        broker.url + "/end_session",
        params={"client_id": "portal", "post_logout_redirect_uri": LOGGED_OUT, "state": "s"},
    )
    assert asked.status_code == 200
    assert 'name="csrf_token"' in asked.text
    forged = await browser.post(
        broker.url + "/end_session",
        data={"confirm": "yes", "csrf_token": "forged", "client_id": "portal"},
    )
    assert forged.status_code == 200 and 'name="csrf_token"' in forged.text  # asked again
    csrf = asked.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = await browser.post(
        broker.url + "/end_session",
        data={
            "confirm": "yes",
            "csrf_token": csrf,
            "client_id": "portal",
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "s",
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == LOGGED_OUT + "?state=s"


async def test_logout_confirmation_with_another_browsers_csrf_token_asks_again(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """Browser A's confirmation token is bound to A's session: posted by browser B it does
    not log B out."""
    await broker.add_client()
    await logged_in(broker, browser)
    asked_a = await browser.get(broker.url + "/end_session", params={"client_id": "portal"})
    token_of_a = asked_a.text.split('name="csrf_token" value="')[1].split('"')[0]
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other:
        await logged_in(broker, other)
        forged = await other.post(
            broker.url + "/end_session",
            data={"confirm": "yes", "csrf_token": token_of_a, "client_id": "portal"},
        )
        assert forged.status_code == 200 and 'name="csrf_token"' in forged.text  # asked again
        assert token_of_a not in forged.text
        silent = await other.get((await start(portal_client(broker), prompt="none")).url)
        assert "code" in callback_params(silent.headers["location"])  # B is still logged in


async def test_expired_id_token_is_still_a_valid_hint(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    token = await logged_in(broker, browser)
    broker.clock.advance(broker.settings.tokens.id_token_ttl + 10)
    response = await browser.get(
        broker.url + "/end_session",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGGED_OUT},
    )
    assert response.status_code == 303


async def test_production_sends_no_logout_token_to_a_stored_plain_http_uri(
    production_broker: RunningBroker, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    """A client stored before registration refused plain http: its logout token (sub, sid)
    is not sent where anyone on the path could read it."""
    receiver.release = threading.Event()  # a delivery would wait here, still in the outbox
    broker = production_broker
    await broker.add_client(backchannel_logout_uri=receiver.url)
    now = broker.clock.now()
    store = SQLiteStore(broker.settings.store.sqlite_path)
    await store.open()
    await store.sessions.put(SessionRecord("sid-1", "sub", now, None, (), {}, now, now + 600))
    await store.sessions.add_client("sid-1", "portal")
    cookies = CookieSigner(load_keys(broker.settings.secret_file), secure=True)
    cookie = (
        cookies.name(SESSION)
        + "="
        + Signer(load_keys(broker.settings.secret_file), salt="sote-broker.session")
        .sign("sid-1")
        .decode()
    )
    try:
        response = await browser.post(
            broker.url + "/end_session",
            data={"confirm": "yes", "csrf_token": cookies.csrf_token("sid-1")},
            headers={"Cookie": cookie},
        )
        assert response.status_code in (200, 303), response.text
        ended = await store.sessions.get("sid-1")
        assert ended is not None and ended.ended_at is not None
        assert await store.outbox.claim_due(now + 3600, 60, 10) == []
        assert receiver.tokens == []
    finally:
        receiver.release.set()
        await store.close()
