"""The authorization code flow end to end: portal (authlib) → broker → mock IdP → portal."""

from __future__ import annotations

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError as ClientOAuthError
from authlib.integrations.starlette_client import StarletteOAuth2App
from joserfc.errors import BadSignatureError

from tests.brokers import BACKENDS, RunningBroker
from tests.jwt_tools import jwt_parts, tamper
from tests.login_walk import HUS_USER_NAME, log_in
from tests.portal_client import (
    Authorization,
    callback_params,
    code_form,
    portal_client,
    redeem,
    start,
)


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """These flows run on SQLite and on PostgreSQL."""
    return str(request.param)


async def login(
    broker: RunningBroker, browser: httpx.AsyncClient, **params: str
) -> tuple[StarletteOAuth2App, Authorization, dict[str, str]]:
    client = portal_client(broker)
    auth = await start(client, **params)
    response = await log_in(browser, broker, auth.url)
    assert response.status_code == 303
    return client, auth, callback_params(response.headers["location"])


async def test_happy_path_issues_tokens_that_the_portal_library_accepts(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    client = portal_client(broker)
    auth = await start(client, acr_values="http://ftn.ficora.fi/2017/loa3")
    response = await log_in(browser, broker, auth.url)
    params = callback_params(response.headers["location"])
    assert params["state"] == auth.state
    assert params["iss"] == broker.url  # RFC 9207

    token = await redeem(client, auth, params["code"])
    assert token["token_type"] == "Bearer"
    assert token["refresh_token"]
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["iss"] == broker.url
    assert claims["aud"] == "portal"
    assert len(claims["sub"]) == 32
    assert claims["acr"] == "http://ftn.ficora.fi/2017/loa3"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["at_hash"] and claims["auth_time"]

    userinfo = await client.userinfo(token=token)
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["name"] == HUS_USER_NAME
    assert userinfo["email"].endswith("@example.hus.fi")


async def test_token_response_is_not_cached(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    _, auth, params = await login(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data=code_form(params["code"], auth.code_verifier),
        auth=("portal", broker.secrets["portal"]),
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_es256_client_gets_es256_id_tokens(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client(id_token_signed_response_alg="ES256")
    client, auth, params = await login(broker, browser)
    token = await redeem(client, auth, params["code"])
    assert jwt_parts(token["id_token"])[0]["alg"] == "ES256"
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["aud"] == "portal"


async def test_tampered_id_token_is_rejected_by_the_portal_library(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    client, auth, params = await login(broker, browser)
    token = await redeem(client, auth, params["code"])
    forged = tamper(token["id_token"], sub="dev:mallory")
    with pytest.raises(BadSignatureError):
        await client.parse_id_token({**token, "id_token": forged}, nonce=auth.nonce)


async def test_wrong_nonce_is_rejected_by_the_portal_library(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    client, auth, params = await login(broker, browser)
    token = await redeem(client, auth, params["code"])
    with pytest.raises(Exception, match="nonce"):
        await client.parse_id_token(token, nonce="another")


async def test_code_reuse_fails_and_revokes_what_the_first_redemption_issued(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    client, auth, params = await login(broker, browser)
    token = await redeem(client, auth, params["code"])
    with pytest.raises(ClientOAuthError) as refused:
        await redeem(client, auth, params["code"])
    assert refused.value.error == "invalid_grant"
    userinfo = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert userinfo.status_code == 401
    refresh = await browser.post(
        broker.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=("portal", broker.secrets["portal"]),
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


async def test_expired_code_is_refused(broker: RunningBroker, browser: httpx.AsyncClient) -> None:
    await broker.add_client()
    client, auth, params = await login(broker, browser)
    broker.clock.advance(broker.settings.tokens.code_ttl + 1)
    with pytest.raises(ClientOAuthError) as refused:
        await redeem(client, auth, params["code"])
    assert refused.value.error == "invalid_grant"


@pytest.mark.parametrize(
    ("verifier", "description"),
    [
        ("x" * 43, "does not match"),
        (None, "code_verifier missing"),
    ],
)
async def test_wrong_or_missing_pkce_verifier_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient, verifier: str | None, description: str
) -> None:
    await broker.add_client()
    _, _, params = await login(broker, browser)
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": "http://127.0.0.1:9/callback",
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    response = await browser.post(
        broker.url + "/token", data=form, auth=("portal", broker.secrets["portal"])
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert description in response.json()["error_description"]


@pytest.mark.parametrize(
    "verifier",
    ["é" * 50, "x" * 42, "x" * 129, "x" * 42 + " ", "short", "x" * 42 + "+", "x" * 42 + "\u0661"],
)
async def test_malformed_pkce_verifier_is_invalid_request_and_leaves_the_code_unspent(
    broker: RunningBroker, browser: httpx.AsyncClient, verifier: str
) -> None:
    """RFC 7636 §4.1 syntax checked before the code is spent (non-ASCII once gave a 500 after
    spending it): a 400 invalid_request, and the portal's real verifier still redeems the code."""
    await broker.add_client()
    client, auth, params = await login(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data=code_form(params["code"], verifier),
        auth=("portal", broker.secrets["portal"]),
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_request"
    token = await redeem(client, auth, params["code"])
    assert token["id_token"]


async def test_redirect_uri_at_token_endpoint_must_match(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client(redirect_uris=("http://127.0.0.1:9/callback", "http://127.0.0.1:9/b"))
    _, auth, params = await login(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data=code_form(params["code"], auth.code_verifier, redirect_uri="http://127.0.0.1:9/b"),
        auth=("portal", broker.secrets["portal"]),
    )
    assert response.json()["error"] == "invalid_grant"


async def test_code_issued_to_one_client_cannot_be_redeemed_by_another(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    await broker.add_client("other")
    _, auth, params = await login(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data=code_form(params["code"], auth.code_verifier),
        auth=("other", broker.secrets["other"]),
    )
    assert response.json()["error"] == "invalid_grant"


async def test_a_leaked_code_presented_by_a_public_client_is_not_burnt(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """Anyone can be a public client: presenting a leaked code under one must not mark it used,
    or the real portal's redemption would look like a replay and revoke the grant."""
    await broker.add_client()
    await broker.add_client("spa", token_endpoint_auth_method="none")
    client, auth, params = await login(broker, browser)
    stolen = await browser.post(
        broker.url + "/token",
        data=code_form(params["code"], auth.code_verifier, client_id="spa"),
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    token = await redeem(client, auth, params["code"])
    info = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 200


async def test_public_client_with_pkce_and_no_secret(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("spa", token_endpoint_auth_method="none")
    client = portal_client(broker, "spa", token_endpoint_auth_method="none")
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    params = callback_params(response.headers["location"])
    token = await redeem(client, auth, params["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["aud"] == "spa"


async def test_public_client_without_pkce_is_refused_at_authorize(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("spa", token_endpoint_auth_method="none")
    client = portal_client(broker, "spa", code_challenge_method=None)
    auth = await start(client)
    response = await browser.get(auth.url)
    params = callback_params(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert "code_challenge" in params["error_description"]
    assert params["state"] == auth.state


async def test_racing_redemptions_of_one_code_issue_tokens_once(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    import asyncio

    await broker.add_client()
    _, auth, params = await login(broker, browser)
    form = code_form(params["code"], auth.code_verifier)
    responses = await asyncio.gather(
        *(
            browser.post(
                broker.url + "/token", data=form, auth=("portal", broker.secrets["portal"])
            )
            for _ in range(6)
        )
    )
    # One redemption wins the code and each of the others, a replay, revokes the grant: a replay
    # served before the winner has issued its tokens refuses the winner too (all 400, as under
    # load); one served after revokes the winner's tokens. Either way nothing issued stays live.
    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 400, 400, 400, 400, 400], [400] * 6)
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    for winner in (r for r in responses if r.status_code == 200):
        bearer = {"Authorization": "Bearer " + winner.json()["access_token"]}
        assert (await browser.get(broker.url + "/userinfo", headers=bearer)).status_code == 401
