"""The demo portal (authlib + joserfc, no broker code) against a real broker, hop by hop.

One cookie-keeping client plays the browser across the servers and follows no redirect by
itself, so every hop (portal /login -> broker /authorize -> journey -> mock IdP -> portal
/callback -> /profile -> /me, and the logouts) is checked.
"""

from __future__ import annotations

import ast
import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from broker.frontend.oidc.keys import KeyRing
from mock_idps.demo_portal import create_app
from tests.brokers import RunningBroker
from tests.jwt_tools import tamper
from tests.login_walk import HUS_USER_NAME, choose_organisation, hidden_inputs, upstream_login
from tests.login_walk import log_in as broker_log_in
from tests.servers import bound_socket, serve

CLIENT_ID = "demo-portal"
LOGGED_OUT = "Et ole kirjautunut sisään."
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class RunningPortal:
    url: str


@pytest.fixture
async def portal(broker: RunningBroker) -> AsyncIterator[RunningPortal]:
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await broker.add_client(
        CLIENT_ID,
        client_name="Demo portal",
        redirect_uris=(url + "/callback",),
        post_logout_redirect_uris=(url + "/",),
        backchannel_logout_uri=url + "/backchannel-logout",
        allowed_scopes=("openid", "profile", "email", "phone", "professional"),
    )
    app = create_app(broker.url, CLIENT_ID, broker.secrets[CLIENT_ID], url, "test-session-key")
    with serve(app, sock) as served:
        yield RunningPortal(served)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def log_in(
    browser: httpx.AsyncClient, broker: RunningBroker, portal: RunningPortal
) -> httpx.Response:
    """Portal /login -> broker -> mock IdP -> portal /callback; returns the callback's answer."""
    start = await browser.get(portal.url + "/login")
    assert start.status_code in (302, 303), start.text
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(broker.url + "/authorize?")
    back = await broker_log_in(browser, broker, authorize_url)
    assert back.status_code == 303, back.text
    callback = back.headers["location"]
    assert callback.startswith(portal.url + "/callback?")
    answer = await browser.get(callback)
    assert answer.status_code == 303, answer.text
    return answer


async def fill_profile(browser: httpx.AsyncClient, portal: RunningPortal) -> None:
    form = await browser.get(portal.url + "/profile")
    saved = await browser.post(
        portal.url + "/profile",
        data={
            "csrf_token": hidden_inputs(form.text)["csrf_token"],
            "ammattiryhma": "psykologi",
            "hyvinvointialue": "pirkanmaa",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me"


async def logged_in_portal(
    browser: httpx.AsyncClient, broker: RunningBroker, portal: RunningPortal
) -> httpx.Response:
    """Log in with a profile; returns the /me page."""
    if (await log_in(browser, broker, portal)).headers["location"] == "/profile":
        await fill_profile(browser, portal)
    page = await browser.get(portal.url + "/me")
    assert page.status_code == 200 and HUS_USER_NAME in page.text
    return page


def selected(form: str, select: str) -> str:
    """The pre-selected option of a <select> on the profile form ("" when none is)."""
    options = form.split(f'<select id="{select}"')[1].split("</select>")[0]
    found = re.search(r'<option value="([^"]*)" selected>', options)
    return found.group(1) if found else ""


def claim_in(page: str, name: str) -> str:
    found = re.search(rf'<th scope="row"><code>{name}</code></th><td>([^<]*)</td>', page)
    assert found, name
    return found.group(1)


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_first_login_asks_for_the_profile_and_shows_the_claims(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    front = await browser.get(portal.url + "/")
    assert front.status_code == 200
    assert "Demoportaali" in front.text and "Kirjaudu palveluun" in front.text
    start = await browser.get(portal.url + "/login")
    params = query(start.headers["location"])
    assert params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    assert params["ui_locales"] == "fi"
    assert params["redirect_uri"] == portal.url + "/callback"
    back = await broker_log_in(browser, broker, start.headers["location"])
    answer = await browser.get(back.headers["location"])
    assert answer.status_code == 303 and answer.headers["location"] == "/profile"

    form = await browser.get(portal.url + "/profile")
    assert form.status_code == 200
    assert "Ammattiryhmä" in form.text and "Itä-Uudenmaan hyvinvointialue" in form.text
    choices = re.findall(r'<option value="[^"]+"', form.text)
    assert len(choices) == 6 + 22  # professional groups; 21 wellbeing areas and Helsinki
    assert selected(form.text, "ammattiryhma") == "sairaanhoitaja"  # from title "Sairaanhoitaja"
    csrf = hidden_inputs(form.text)["csrf_token"]
    missing = await browser.post(portal.url + "/profile", data={"csrf_token": csrf})
    assert missing.status_code == 400 and "Valitse ammattiryhmä" in missing.text
    forged = await browser.post(
        portal.url + "/profile", data={"csrf_token": "forged", "ammattiryhma": "laakari"}
    )
    assert forged.status_code == 400
    assert (await browser.get(portal.url + "/me")).headers["location"] == "/profile"
    await fill_profile(browser, portal)

    me = await browser.get(portal.url + "/me")
    assert me.status_code == 200
    assert len(claim_in(me.text, "sub")) == 32 and HUS_USER_NAME in me.text
    assert "Psykologi" in me.text and "Pirkanmaan hyvinvointialue" in me.text
    assert claim_in(me.text, "iss") == broker.url
    assert claim_in(me.text, "aud") == CLIENT_ID
    assert claim_in(me.text, "sid") and claim_in(me.text, "at_hash")
    assert claim_in(me.text, "email").endswith("@example.hus.fi")
    assert "eyJ" not in me.text  # no raw token on the page
    assert "demo_portal_session" in browser.cookies


async def test_profile_is_pre_filled_from_the_professional_claims_and_can_be_changed(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    start = await browser.get(portal.url + "/login")
    assert "professional" in query(start.headers["location"])["scope"].split()
    assert (await browser.get(start.headers["location"])).headers["location"] == "/login/role"
    to_idp = await choose_organisation(browser, broker, org="pirha")
    back = await upstream_login(browser, to_idp, ("tiina.laine", "testi1234"))
    answer = await browser.get(back.headers["location"])
    assert answer.headers["location"] == "/profile"

    form = await browser.get(portal.url + "/profile")
    assert selected(form.text, "ammattiryhma") == "psykologi"  # title "Psykologi"
    assert selected(form.text, "hyvinvointialue") == "pirkanmaa"  # PIRHA's area
    saved = await browser.post(
        portal.url + "/profile",
        data={
            "csrf_token": hidden_inputs(form.text)["csrf_token"],
            "ammattiryhma": "muu",
            "hyvinvointialue": "",
        },
    )
    assert saved.status_code == 303
    me = await browser.get(portal.url + "/me")
    assert "Muu" in me.text
    assert claim_in(me.text, "title") == "Psykologi"  # the userinfo claims, shown
    again = await browser.get(portal.url + "/profile")
    assert selected(again.text, "ammattiryhma") == "muu"  # the saved choice, not the claims
    assert selected(again.text, "hyvinvointialue") == ""


async def test_rp_initiated_logout_returns_logged_out_and_the_profile_is_remembered(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    me = await logged_in_portal(browser, broker, portal)
    refused = await browser.post(portal.url + "/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    assert HUS_USER_NAME in (await browser.get(portal.url + "/me")).text

    out = await browser.post(portal.url + "/logout", data=hidden_inputs(me.text))
    assert out.status_code == 303
    end_session = out.headers["location"]
    assert end_session.startswith(broker.url + "/end_session?")
    params = query(end_session)
    assert params["id_token_hint"] and params["state"]
    assert params["post_logout_redirect_uri"] == portal.url + "/"
    assert LOGGED_OUT in (await browser.get(portal.url + "/me")).text  # already, locally

    at_broker = await browser.get(end_session)
    assert at_broker.status_code == 303
    returned = at_broker.headers["location"]
    assert returned == portal.url + "/?state=" + params["state"]
    front = await browser.get(returned)
    assert "Olet kirjautunut ulos." in front.text
    replayed = await browser.get(returned)
    assert "Olet kirjautunut ulos." not in replayed.text  # the state is used up

    again = await log_in(browser, broker, portal)  # through the journey: broker session ended
    assert again.headers["location"] == "/me"  # the profile is remembered
    assert "Psykologi" in (await browser.get(portal.url + "/me")).text


async def test_logout_at_the_broker_in_another_tab_ends_the_portal_session(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    await logged_in_portal(browser, broker, portal)
    asked = await browser.get(broker.url + "/end_session")
    assert asked.status_code == 200 and 'name="csrf_token"' in asked.text
    done = await browser.post(broker.url + "/end_session", data=hidden_inputs(asked.text))
    assert done.status_code == 200

    async def portal_logged_out() -> bool:
        return LOGGED_OUT in (await browser.get(portal.url + "/me")).text

    await wait_until(portal_logged_out)


def broker_signed(broker: RunningBroker, typ: str = "logout+jwt", **claims: Any) -> str:
    """A logout token signed with the broker's own active key; None values drop a claim."""
    ring = KeyRing(broker.settings.keys.directory, broker.clock)
    ring.load()
    now = int(time.time())
    body = {
        "iss": broker.url,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sub": "someone",
        "events": {EVENT: {}},
    }
    body.update(claims)
    return ring.sign_jwt({k: v for k, v in body.items() if v is not None}, "RS256", typ=typ)


def foreign_signed(issuer: str, kid: str, sid: str) -> str:
    """A well-formed logout token signed by a key the broker never had."""
    key = RSAKey.generate_key(2048)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sid": sid,
        "events": {EVENT: {}},
    }
    header = {"alg": "RS256", "kid": kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, key)


async def test_forged_logout_tokens_are_refused_and_end_nothing(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    me = await logged_in_portal(browser, broker, portal)
    sid, sub = claim_in(me.text, "sid"), claim_in(me.text, "sub")
    kid = (await browser.get(broker.url + "/jwks")).json()["keys"][0]["kid"]
    valid = broker_signed(broker, sid=sid, sub=sub)
    forgeries = {
        "another key, the broker's kid": foreign_signed(broker.url, kid, sid),
        "another key, unknown kid": foreign_signed(broker.url, "no-such-kid", sid),
        "nonce": broker_signed(broker, sid=sid, nonce="n-1"),
        "wrong aud": broker_signed(broker, sid=sid, aud="another-portal"),
        "wrong iss": broker_signed(broker, sid=sid, iss="https://evil.example"),
        "no events": broker_signed(broker, sid=sid, events=None),
        "other event": broker_signed(broker, sid=sid, events={"urn:other": {}}),
        "no jti": broker_signed(broker, sid=sid, jti=None),
        "no iat": broker_signed(broker, sid=sid, iat=None),
        "expired": broker_signed(broker, sid=sid, exp=int(time.time()) - 600),
        "neither sid nor sub": broker_signed(broker, sub=None),
        "typ JWT": broker_signed(broker, typ="JWT", sid=sid),
        "tampered": tamper(valid, sub="dev:someone-else"),
        "unsigned": valid.rsplit(".", 1)[0] + ".",
        "garbage": "not-a-jwt",
    }
    for reason, token in forgeries.items():
        refused = await browser.post(
            portal.url + "/backchannel-logout", data={"logout_token": token}
        )
        assert refused.status_code == 400, reason
        assert refused.json() == {"error": "invalid_request"}, reason
    for body in ({}, {"other": "x"}):
        empty = await browser.post(portal.url + "/backchannel-logout", data=body)
        assert empty.status_code == 400
    as_json = await browser.post(portal.url + "/backchannel-logout", json={"logout_token": valid})
    assert as_json.status_code == 400
    assert HUS_USER_NAME in (await browser.get(portal.url + "/me")).text  # still logged in

    accepted = await browser.post(portal.url + "/backchannel-logout", data={"logout_token": valid})
    assert accepted.status_code == 200
    assert accepted.headers["cache-control"] == "no-store"
    assert LOGGED_OUT in (await browser.get(portal.url + "/me")).text
    replayed = await browser.post(portal.url + "/backchannel-logout", data={"logout_token": valid})
    assert replayed.status_code == 400


async def test_logout_token_with_only_sub_ends_all_of_that_persons_sessions(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    me = await logged_in_portal(browser, broker, portal)
    sub = claim_in(me.text, "sub")
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other_browser:
        await logged_in_portal(other_browser, broker, portal)
        someone_else = broker_signed(broker, sub="someone-else")
        ok = await browser.post(
            portal.url + "/backchannel-logout", data={"logout_token": someone_else}
        )
        assert ok.status_code == 200
        assert HUS_USER_NAME in (await other_browser.get(portal.url + "/me")).text
        token = broker_signed(broker, sub=sub)
        ok = await browser.post(portal.url + "/backchannel-logout", data={"logout_token": token})
        assert ok.status_code == 200
        assert LOGGED_OUT in (await other_browser.get(portal.url + "/me")).text
    assert LOGGED_OUT in (await browser.get(portal.url + "/me")).text


async def test_error_from_the_broker_shows_a_friendly_finnish_page(
    portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    start = await browser.get(portal.url + "/login")
    state = query(start.headers["location"])["state"]
    denied = await browser.get(
        portal.url + "/callback",
        params={
            "error": "access_denied",
            "error_description": "Käyttäjä perui",
            "state": state,
        },
    )
    assert denied.status_code == 400
    assert 'lang="fi"' in denied.text
    assert "Kirjautuminen ei onnistunut" in denied.text
    assert "Kirjautuminen peruttiin" in denied.text
    assert "access_denied" in denied.text and "Käyttäjä perui" in denied.text
    assert 'href="/login"' in denied.text and "Traceback" not in denied.text

    crafted = await browser.get(
        portal.url + "/callback",
        params={"error": "login_required", "error_description": "Soita 0700", "state": "x"},
    )
    assert "Kirjautuminen tunnistuspalvelussa vaaditaan" in crafted.text
    assert "Soita 0700" not in crafted.text  # words only for a login this browser started

    stale = await browser.get(portal.url + "/callback", params={"code": "c", "state": state})
    assert stale.status_code == 400 and "vanhentui" in stale.text


async def test_callback_refuses_a_mixed_up_issuer(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    start = await browser.get(portal.url + "/login")
    back = await broker_log_in(browser, broker, start.headers["location"])
    params = query(back.headers["location"])
    params["iss"] = "https://evil.example"
    mixed = await browser.get(portal.url + "/callback", params=params)
    assert mixed.status_code == 400 and "Kirjautuminen ei onnistunut" in mixed.text
    assert LOGGED_OUT in (await browser.get(portal.url + "/me")).text


async def test_language_switch_reaches_the_broker(
    broker: RunningBroker, portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    swedish = await browser.get(portal.url + "/?lang=sv")
    assert 'lang="sv"' in swedish.text and "Logga in i tjänsten" in swedish.text
    assert 'lang="sv"' in (await browser.get(portal.url + "/me")).text  # remembered
    start = await browser.get(portal.url + "/login")
    assert query(start.headers["location"])["ui_locales"] == "sv"
    await browser.get(start.headers["location"])
    role_page = await browser.get(broker.url + "/login/role")
    assert 'lang="sv"' in role_page.text
    english = await browser.get(portal.url + "/?lang=en")
    assert "Log in to the service" in english.text


async def test_health_and_security_headers(
    portal: RunningPortal, browser: httpx.AsyncClient
) -> None:
    health = await browser.get(portal.url + "/healthz")
    assert health.status_code == 200
    front = await browser.get(portal.url + "/")
    assert "frame-ancestors 'none'" in front.headers["content-security-policy"]
    assert front.headers["referrer-policy"] == "no-referrer"
    assert front.headers["cache-control"] == "no-store"
    assert "httponly" in front.headers["set-cookie"].lower()
    css = await browser.get(portal.url + "/static/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_nothing_in_mock_idps_imports_the_broker() -> None:
    """The demo portal proves interoperability only if it shares no code with the broker."""
    root = Path(__file__).parents[2] / "mock_idps"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "broker" or n.startswith("broker.") for n in names), path
