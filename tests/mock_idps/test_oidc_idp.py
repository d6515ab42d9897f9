"""The mock organisation OIDC IdP, driven through real HTTP by authlib as a relying party would.

authlib (discovery, PKCE, nonce, code exchange, ID token validation, userinfo) plays the broker and
httpx plays the browser, following no redirect by itself, so each hop is checked. If authlib
accepts the honest tokens and refuses every faulty one, the mock is fit for the broker's tests.
"""

from __future__ import annotations

import ast
import html
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    MissingClaimError,
)
from joserfc.jwk import RSAKey

from mock_idps.oidc_idp import Client, ConfigError, create_app
from mock_idps.oidc_idp.config import DEFAULT_USERS_FILE, load_config
from mock_idps.oidc_idp.hetu import is_test_hetu
from tests.servers import bound_socket, serve

CLIENT_ID = "sote-broker"
CLIENT_SECRET = "mock-idp-secret-for-development-only"
POST_CLIENT = Client(
    client_id="post-client",
    client_secret="post-client-secret-for-tests",
    redirect_uris=("http://127.0.0.1:9/post/callback",),
    require_pkce=False,
)
REDIRECT_URI = "http://127.0.0.1:9/upstream/oidc/callback"
LOGGED_OUT_URI = "http://127.0.0.1:9/logged-out"
LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
MOCK_DIR = Path(__file__).resolve().parents[2] / "mock_idps"


@dataclass
class Clock:
    """Real time plus an offset the test can move (the IdP's clock only; authlib keeps its own)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class RunningIdP:
    url: str
    clock: Clock

    def issuer(self, org: str) -> str:
        return f"{self.url}/{org}"


@pytest.fixture(scope="module")
def served_idp() -> Iterator[RunningIdP]:
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(
        url,
        extra_redirect_uris=[REDIRECT_URI],
        faults_enabled=True,
        clock=clock,
        extra_post_logout_redirect_uris=[LOGGED_OUT_URI],
        extra_clients=[POST_CLIENT],
    )
    with serve(app, sock) as served:
        yield RunningIdP(served, clock)


@pytest.fixture
async def idp(served_idp: RunningIdP) -> AsyncIterator[RunningIdP]:
    served_idp.clock.offset = 0.0
    yield served_idp
    async with httpx.AsyncClient() as client:
        (await client.delete(served_idp.url + "/_faults")).raise_for_status()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client


def relying_party(
    idp: RunningIdP,
    org: str,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    **client_kwargs: Any,
) -> Any:
    """authlib's Starlette OIDC client, registered exactly as a relying party would do it."""
    oauth = OAuth()
    return oauth.register(
        org,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=idp.issuer(org) + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            **client_kwargs,
        },
    )


# -- the browser's side -------------------------------------------------------------------


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def form_of(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The login form's action and hidden fields."""
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    assert action is not None
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in hidden}


async def submit(
    browser: httpx.AsyncClient, page: httpx.Response, username: str, password: str
) -> httpx.Response:
    action, fields = form_of(page)
    return await browser.post(action, data={**fields, "username": username, "password": password})


def callback(response: httpx.Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    return query(location)


async def start(
    browser: httpx.AsyncClient, rp: Any, redirect_uri: str = REDIRECT_URI, **params: Any
) -> tuple[dict[str, Any], httpx.Response]:
    auth = await rp.create_authorization_url(redirect_uri, **params)
    return auth, await browser.get(auth["url"])


async def log_in(
    browser: httpx.AsyncClient, rp: Any, username: str, password: str, **params: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """Authorize, fill in the form, return authlib's request data and the callback parameters."""
    auth, page = await start(browser, rp, **params)
    answer = callback(await submit(browser, page, username, password))
    assert answer["state"] == auth["state"]
    return auth, answer


async def redeem(rp: Any, auth: dict[str, Any], answer: dict[str, str], **kw: Any) -> Any:
    return await rp.fetch_access_token(
        redirect_uri=REDIRECT_URI,
        code=answer["code"],
        code_verifier=auth["code_verifier"],
        **kw,
    )


async def arm(idp: RunningIdP, org: str, fault: str, **extra: Any) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            idp.url + "/_faults", json={"org": org, "fault": fault, **extra}
        )
    assert response.status_code == 200, response.text


# -- discovery and keys -------------------------------------------------------------------


async def test_each_org_is_its_own_issuer_with_its_own_key(idp: RunningIdP) -> None:
    async with httpx.AsyncClient() as client:
        docs = {
            org: (await client.get(idp.issuer(org) + "/.well-known/openid-configuration")).json()
            for org in ("hus", "pshva", "oys", "pirha", "tyks", "lshp", "soite", "pajjatha")
        }
        keys = {
            org: (await client.get(doc["jwks_uri"])).json()["keys"] for org, doc in docs.items()
        }
        unknown = await client.get(idp.url + "/nope/.well-known/openid-configuration")
    for org, doc in docs.items():
        assert doc["issuer"] == idp.issuer(org)
        assert doc["token_endpoint"] == idp.issuer(org) + "/token"
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert doc["authorization_response_iss_parameter_supported"] is True
        assert [k["kty"] for k in keys[org]] == ["RSA"]
        assert "d" not in keys[org][0]
    assert len({k[0]["kid"] for k in keys.values()}) == 8
    assert len({k[0]["n"] for k in keys.values()}) == 8
    assert unknown.status_code == 404


# -- the happy path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org", "username", "password", "title", "hetu"),
    [
        ("hus", "maija.meikalainen", "testi1234", "Sairaanhoitaja", "010280-952L"),
        ("oys", "jari.heikkinen", "testi5678", "Fysioterapeutti", None),
    ],
)
async def test_login_code_exchange_id_token_and_userinfo(
    idp: RunningIdP,
    browser: httpx.AsyncClient,
    org: str,
    username: str,
    password: str,
    title: str,
    hetu: str | None,
) -> None:
    rp = relying_party(idp, org)
    auth, page = await start(browser, rp)
    assert f"{org.upper()} — testikirjautuminen (MOCK)" in page.text
    assert f"<code>{username}</code>" in page.text and f"<code>{password}</code>" in page.text
    answer = callback(await submit(browser, page, username, password))
    assert answer["state"] == auth["state"] and answer["iss"] == idp.issuer(org)

    token = await redeem(rp, auth, answer)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600
    claims = await rp.parse_id_token(token, nonce=auth["nonce"])
    assert claims["iss"] == idp.issuer(org) and claims["aud"] == CLIENT_ID
    assert claims["sub"].startswith(f"{org}-") and claims["nonce"] == auth["nonce"]
    assert claims["acr"] == LOA2 and claims["amr"] == ["pwd"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert claims["title"] == title and claims["email"].endswith(".fi")
    assert claims.get("hetu") == hetu

    info = await rp.userinfo(token=token)
    assert info["sub"] == claims["sub"]
    assert {"name", "given_name", "family_name", "email", "title"} <= set(info)
    assert "phone_number" not in info  # needs the `phone` scope
    assert info.get("hetu") == hetu


async def test_tokens_of_one_org_do_not_verify_with_another_orgs_key(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    hus = relying_party(idp, "hus")
    auth, answer = await log_in(browser, hus, "matti.virtanen", "testi5678")
    token = await redeem(hus, auth, answer)
    async with httpx.AsyncClient() as client:
        oys_jwk = (await client.get(idp.issuer("oys") + "/jwks")).json()["keys"][0]
    with pytest.raises(BadSignatureError):
        jwt.decode(token["id_token"], RSAKey.import_key(oys_jwk))


async def test_scopes_decide_the_claims_and_phone_needs_its_scope(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "tyks")
    auth, answer = await log_in(
        browser, rp, "anna.lindholm", "testi1234", scope="openid email phone"
    )
    token = await redeem(rp, auth, answer)
    claims = await rp.parse_id_token(token, nonce=auth["nonce"])
    info = await rp.userinfo(token=token)
    for released in (claims, info):
        assert released["email"] == "anna.lindholm@example.varha.fi"
        assert released["phone_number"] == "+358500000501"
        assert "name" not in released and "title" not in released and "hetu" not in released


async def test_client_secret_post_and_no_pkce_for_a_client_configured_so(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    redirect_uri = POST_CLIENT.redirect_uris[0]
    rp = relying_party(
        idp,
        "pirha",
        client_id=POST_CLIENT.client_id,
        client_secret=POST_CLIENT.client_secret,
        token_endpoint_auth_method="client_secret_post",
        code_challenge_method=None,
    )
    auth, page = await start(browser, rp, redirect_uri)
    assert "code_challenge" not in query(auth["url"])
    answer = callback(await submit(browser, page, "tiina.laine", "testi1234"), redirect_uri)
    token = await rp.fetch_access_token(redirect_uri=redirect_uri, code=answer["code"])
    claims = await rp.parse_id_token(token, nonce=auth["nonce"])
    assert claims["aud"] == POST_CLIENT.client_id


# -- refusals -----------------------------------------------------------------------------


async def test_wrong_password_shows_the_form_again_without_redirect(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "pshva")
    auth, page = await start(browser, rp)
    wrong = await submit(browser, page, "pekka.korhonen", "testi5678")
    assert wrong.status_code == 200 and "location" not in wrong.headers
    assert "Väärä käyttäjätunnus tai salasana." in wrong.text
    assert 'value="pekka.korhonen"' in wrong.text
    unknown = await submit(browser, wrong, "nobody", "testi1234")
    assert unknown.status_code == 200 and "location" not in unknown.headers
    answer = callback(await submit(browser, unknown, "pekka.korhonen", "testi1234"))
    assert answer["state"] == auth["state"]


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        ("unknown-client", REDIRECT_URI),
        (CLIENT_ID, "http://127.0.0.1:9/evil/callback"),
        (CLIENT_ID, REDIRECT_URI + "/"),
        (CLIENT_ID, None),
    ],
)
async def test_unknown_client_or_redirect_uri_is_refused_without_redirect(
    idp: RunningIdP, browser: httpx.AsyncClient, client_id: str, redirect_uri: str | None
) -> None:
    params = {"response_type": "code", "client_id": client_id, "scope": "openid", "state": "s"}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    response = await browser.get(idp.issuer("hus") + "/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert "(MOCK)" in response.text


async def test_other_authorization_errors_go_to_the_redirect_uri(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    base = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "st"}
    pkce = {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}
    pkce["code_challenge_method"] = "S256"
    cases = [
        ({"response_type": "token", "scope": "openid", **pkce}, "unsupported_response_type"),
        ({"response_type": "code", "scope": "profile", **pkce}, "invalid_scope"),
        ({"response_type": "code", "scope": "openid"}, "invalid_request"),  # PKCE required
        (
            {"response_type": "code", "scope": "openid", **pkce, "code_challenge_method": "plain"},
            "invalid_request",
        ),
        ({"response_type": "code", "scope": "openid", **pkce, "max_age": "-1"}, "invalid_request"),
    ]
    for params, error in cases:
        response = await browser.get(idp.issuer("hus") + "/authorize", params={**base, **params})
        answer = callback(response)
        assert answer["error"] == error, params
        assert answer["state"] == "st" and answer["iss"] == idp.issuer("hus")


async def test_a_code_works_once_and_its_replay_revokes_the_access_token(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "hus")
    auth, answer = await log_in(browser, rp, "maija.meikalainen", "testi1234")
    token = await redeem(rp, auth, answer)
    assert (await rp.userinfo(token=token))["sub"]
    with pytest.raises(OAuthError) as refused:
        await redeem(rp, auth, answer)
    assert refused.value.error == "invalid_grant"
    with pytest.raises(httpx.HTTPStatusError) as revoked:
        await rp.userinfo(token=token)
    assert revoked.value.response.status_code == 401
    assert 'error="invalid_token"' in revoked.value.response.headers["www-authenticate"]


async def test_a_wrong_pkce_verifier_is_refused(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "lshp")
    auth, answer = await log_in(browser, rp, "kaisa.aikio", "testi1234")
    with pytest.raises(OAuthError) as refused:
        await redeem(rp, {**auth, "code_verifier": "x" * 50}, answer)
    assert refused.value.error == "invalid_grant"


async def test_a_code_is_bound_to_its_redirect_uri_client_and_lifetime(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "soite")
    auth, answer = await log_in(browser, rp, "elin.sundqvist", "testi1234")
    with pytest.raises(OAuthError) as wrong_uri:
        await rp.fetch_access_token(
            redirect_uri=REDIRECT_URI + "x",
            code=answer["code"],
            code_verifier=auth["code_verifier"],
        )
    assert wrong_uri.value.error == "invalid_grant"

    auth, answer = await log_in(browser, rp, "elin.sundqvist", "testi1234", prompt="login")
    wrong_secret = relying_party(idp, "soite", client_secret="not-the-secret")
    with pytest.raises(OAuthError) as bad_client:
        await redeem(wrong_secret, auth, answer)
    assert bad_client.value.error == "invalid_client"

    auth, answer = await log_in(browser, rp, "elin.sundqvist", "testi1234", prompt="login")
    idp.clock.offset = 61
    with pytest.raises(OAuthError) as expired:
        await redeem(rp, auth, answer)
    assert expired.value.error == "invalid_grant"


async def test_the_login_form_needs_its_csrf_cookie(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _auth, page = await start(browser, relying_party(idp, "hus"))
    action, fields = form_of(page)
    async with httpx.AsyncClient(follow_redirects=False) as other_browser:
        forged = await other_browser.post(
            action, data={**fields, "username": "maija.meikalainen", "password": "testi1234"}
        )
    assert forged.status_code == 400 and "location" not in forged.headers


# -- the IdP session ----------------------------------------------------------------------


async def test_prompt_none_without_a_session_answers_login_required(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    auth, response = await start(browser, relying_party(idp, "oys"), prompt="none")
    answer = callback(response)
    assert answer["error"] == "login_required" and answer["state"] == auth["state"]


async def test_the_idp_session_skips_the_form_until_prompt_or_max_age_demand_it(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "hus")
    auth, answer = await log_in(browser, rp, "maija.meikalainen", "testi1234")
    first = await rp.parse_id_token(await redeem(rp, auth, answer), nonce=auth["nonce"])

    for params in ({}, {"prompt": "none"}, {"max_age": "600"}):
        auth, response = await start(browser, rp, **params)
        again = await rp.parse_id_token(
            await redeem(rp, auth, callback(response)), nonce=auth["nonce"]
        )
        assert again["sub"] == first["sub"] and again["auth_time"] == first["auth_time"]

    _auth, forced = await start(browser, rp, prompt="login")
    assert forced.status_code == 200 and "<form" in forced.text

    idp.clock.offset = 120
    _auth, too_old = await start(browser, rp, max_age="60")
    assert too_old.status_code == 200 and "<form" in too_old.text
    _auth, silent = await start(browser, rp, prompt="none", max_age="60")
    assert callback(silent)["error"] == "login_required"

    # The session belongs to HUS only: OYS has its own cookie path and signing salt.
    _auth, elsewhere = await start(browser, relying_party(idp, "oys"), prompt="none")
    assert callback(elsewhere)["error"] == "login_required"


async def test_login_hint_ui_locales_and_acr_values(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "pajjatha")
    auth, page = await start(
        browser, rp, login_hint="ville.saarinen", ui_locales="sv fi", acr_values=f"urn:x {LOA3}"
    )
    assert "PAJJATHA — testinloggning (MOCK)" in page.text and "Lösenord" in page.text
    assert 'value="ville.saarinen"' in page.text
    token = await redeem(
        rp, auth, callback(await submit(browser, page, "ville.saarinen", "testi5678"))
    )
    assert (await rp.parse_id_token(token, nonce=auth["nonce"]))["acr"] == LOA3

    auth, page = await start(browser, rp, prompt="login", ui_locales="en", acr_values="urn:x")
    assert "PAJJATHA — test login (MOCK)" in page.text and "Password" in page.text
    token = await redeem(
        rp, auth, callback(await submit(browser, page, "ville.saarinen", "testi5678"))
    )
    assert (await rp.parse_id_token(token, nonce=auth["nonce"]))["acr"] == LOA2


async def test_logout_ends_the_session_and_redirects_only_where_registered(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "hus")
    auth, answer = await log_in(browser, rp, "matti.virtanen", "testi5678")
    token = await redeem(rp, auth, answer)

    refused = await browser.get(
        idp.issuer("hus") + "/logout",
        params={"client_id": CLIENT_ID, "post_logout_redirect_uri": "http://127.0.0.1:9/evil"},
    )
    assert refused.status_code == 400 and "location" not in refused.headers

    auth, _page = await log_in(browser, rp, "matti.virtanen", "testi5678")
    logout = await rp.create_logout_url(
        post_logout_redirect_uri=LOGGED_OUT_URI, id_token_hint=token["id_token"]
    )
    response = await browser.get(logout["url"])
    assert response.status_code == 302
    assert query(response.headers["location"]) == {"state": logout["state"]}
    assert response.headers["location"].startswith(LOGGED_OUT_URI + "?")

    _auth, after = await start(browser, rp, prompt="none")
    assert callback(after)["error"] == "login_required"


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("bad_signature", BadSignatureError),
        ("wrong_issuer", InvalidClaimError),
        ("wrong_audience", InvalidClaimError),
        ("expired", ExpiredTokenError),
        ("nonce_mismatch", InvalidClaimError),
        ("missing_nonce", MissingClaimError),
    ],
)
async def test_id_token_faults_fail_authlibs_validation(
    idp: RunningIdP, browser: httpx.AsyncClient, fault: str, error: type[Exception]
) -> None:
    rp = relying_party(idp, "hus")
    await arm(idp, "hus", fault)
    auth, answer = await log_in(browser, rp, "maija.meikalainen", "testi1234")
    token = await redeem(rp, auth, answer)
    with pytest.raises(error):
        await rp.parse_id_token(token, nonce=auth["nonce"])

    auth, answer = await log_in(browser, rp, "maija.meikalainen", "testi1234", prompt="login")
    token = await redeem(rp, auth, answer)
    assert (await rp.parse_id_token(token, nonce=auth["nonce"]))["iss"] == idp.issuer("hus")


async def test_token_endpoint_faults_fail_the_token_call(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "oys")
    await log_in(browser, rp, "sanna.makela", "testi1234")  # an IdP session for the rest

    await arm(idp, "oys", "token_error", count=2)
    for _ in range(2):
        auth, response = await start(browser, rp)
        with pytest.raises(OAuthError) as refused:
            await redeem(rp, auth, callback(response))
        assert refused.value.error == "invalid_grant"

    await arm(idp, "oys", "token_garbage")
    auth, response = await start(browser, rp)
    with pytest.raises(ValueError, match="not a JSON object"):
        await redeem(rp, auth, callback(response))

    await arm(idp, "oys", "no_id_token")
    auth, response = await start(browser, rp)
    token = await redeem(rp, auth, callback(response))
    assert "id_token" not in token and token["access_token"]
    assert await rp.parse_id_token(token, nonce=auth["nonce"]) is None

    await arm(idp, "oys", "slow_token", seconds=1.5)
    auth, response = await start(browser, rp)
    with pytest.raises(httpx.ReadTimeout):
        await redeem(rp, auth, callback(response), timeout=0.3)

    auth, response = await start(browser, rp)  # all used up: honest again
    token = await redeem(rp, auth, callback(response))
    assert (await rp.parse_id_token(token, nonce=auth["nonce"]))["acr"] == LOA2


async def test_a_bad_request_does_not_use_up_a_fault(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    rp = relying_party(idp, "tyks")
    await arm(idp, "tyks", "wrong_audience")
    auth, answer = await log_in(browser, rp, "juha.salminen", "testi5678")
    with pytest.raises(OAuthError):
        await redeem(rp, {**auth, "code_verifier": "y" * 43}, answer)
    async with httpx.AsyncClient() as client:
        armed = (await client.get(idp.url + "/_faults")).json()["armed"]
    assert armed == {"tyks": {"fault": "wrong_audience", "remaining": 1}}


async def test_fault_requests_are_validated(idp: RunningIdP) -> None:
    async with httpx.AsyncClient() as client:
        for body in (
            {"org": "nope", "fault": "expired"},
            {"org": "hus", "fault": "nope"},
            {"org": "hus", "fault": "expired", "count": 0},
            {"org": "hus", "fault": "expired", "count": "1"},
        ):
            assert (await client.post(idp.url + "/_faults", json=body)).status_code == 400


async def test_faults_are_off_by_default() -> None:
    sock = bound_socket()
    app = create_app(f"http://127.0.0.1:{sock.getsockname()[1]}")
    with serve(app, sock) as url:
        async with httpx.AsyncClient() as client:
            response = await client.post(url + "/_faults", json={"org": "hus", "fault": "expired"})
    assert response.status_code in (404, 405)


# -- logs, configuration, independence ----------------------------------------------------


async def test_logs_carry_no_password_code_or_token(
    idp: RunningIdP, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mock_idps.oidc_idp")
    rp = relying_party(idp, "hus")
    auth, page = await start(browser, rp)
    await submit(browser, page, "maija.meikalainen", "wrong-password-123")
    answer = callback(await submit(browser, page, "maija.meikalainen", "testi1234"))
    token = await redeem(rp, auth, answer)
    await rp.userinfo(token=token)
    logged = caplog.text
    assert "login: org=hus" in logged and "token issued: org=hus" in logged
    for secret in (
        "testi1234",
        "wrong-password-123",
        CLIENT_SECRET,
        answer["code"],
        token["access_token"],
        token["id_token"][:40],
        auth["code_verifier"],
        "010280-952L",
    ):
        assert secret not in logged


def test_the_default_users_file_is_complete_and_uses_test_identity_codes() -> None:
    config = load_config(DEFAULT_USERS_FILE)
    assert set(config.organisations) == {
        "hus", "pshva", "oys", "pirha", "tyks", "lshp", "soite", "pajjatha",
    }  # fmt: skip
    for org in config.organisations.values():
        assert 2 <= len(org.users) <= 3
        hetus = [u.claims["hetu"] for u in org.users if "hetu" in u.claims]
        assert len(hetus) == 1 and all(is_test_hetu(h) for h in hetus)
        assert all(u.sub.startswith(org.org_id + "-") for u in org.users)
    client = config.clients[CLIENT_ID]
    assert client.client_secret == CLIENT_SECRET
    assert client.redirect_uris == ("http://127.0.0.1:8000/upstream/oidc/callback/{org}",)
    assert is_test_hetu("010280-952L") and not is_test_hetu("010280-952K")
    assert not is_test_hetu("131052-308T")  # valid check character, but not a test number


def test_a_bad_users_file_names_the_file_and_key(tmp_path: Path) -> None:
    text = DEFAULT_USERS_FILE.read_text(encoding="utf-8").replace("010280-952L", "010280-952K")
    bad = tmp_path / "users.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"users\.yaml: organisations\.hus\.users\[0\]\.claims\.hetu"
    ):
        load_config(bad)


def test_nothing_under_mock_idps_imports_broker() -> None:
    for path in MOCK_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "broker" or n.startswith("broker.") for n in names), path


def test_a_key_dir_keeps_each_orgs_key_across_restarts(tmp_path: Path) -> None:
    first = create_app("http://127.0.0.1:1", key_dir=tmp_path).state.idp.keys
    second = create_app("http://127.0.0.1:1", key_dir=tmp_path).state.idp.keys
    assert {org: k.jwks() for org, k in first.items()} == {
        org: k.jwks() for org, k in second.items()
    }
    assert (tmp_path / "hus.pem").stat().st_mode & 0o077 == 0


def test_the_cli_adds_a_client_only_with_a_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mock_idps.oidc_idp.__main__ import extra_clients, parse_args

    args = parse_args(["--client-id", "portal", "--redirect-uri", "http://127.0.0.1:9/cb"])
    assert not args.enable_faults and args.port == 8002
    monkeypatch.delenv("MOCK_OIDC_IDP_CLIENT_SECRET", raising=False)
    with pytest.raises(SystemExit):
        extra_clients(args)
    monkeypatch.setenv("MOCK_OIDC_IDP_CLIENT_SECRET", "portal-secret-for-tests")
    (client,) = extra_clients(args)
    assert client.redirect_uris == ("http://127.0.0.1:9/cb",) and client.require_pkce


async def test_an_org_redirect_uri_is_accepted_only_by_that_organisation(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    """The default client registers `.../upstream/oidc/callback/{org}`: one redirect URI per
    organisation, as a relying party defending against mix-up has (RFC 9700 §4.4.2.2)."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "scope": "openid",
        "state": "s",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    own = "http://127.0.0.1:8000/upstream/oidc/callback/hus"
    accepted = await browser.get(
        idp.issuer("hus") + "/authorize", params={**params, "redirect_uri": own}
    )
    refused = await browser.get(
        idp.issuer("pirha") + "/authorize", params={**params, "redirect_uri": own}
    )
    assert accepted.status_code == 200 and 'name="password"' in accepted.text
    assert refused.status_code == 400 and 'name="password"' not in refused.text
