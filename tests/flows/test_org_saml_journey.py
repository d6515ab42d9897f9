"""Organisation identification over SAML end to end: portal → broker → group → organisation →
the mock organisation SAML IdP's login form → the broker's ACS (a cross-site POST, without the
broker's SameSite=Lax cookies) → same-site continue → portal. And every organisation of both
groups, OIDC and SAML, logged in once, as the demo offers them."""

from __future__ import annotations

import base64
import re
import zlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from broker.store.sqlite import SQLiteStore
from mock_idps.oidc_idp.config import load_config
from mock_idps.org_saml_idp.config import load_organisations
from tests.flows.suomifi import continued
from tests.flows.test_logout import LOGGED_OUT
from tests.jwt_tools import jwt_parts
from tests.login_walk import choose, choose_organisation, register_if_new, upstream_login
from tests.mock_idps.saml_sp import form_action, hidden, posted_response
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import OrgSAMLWorld

LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
BROKER_SESSION_COOKIE = "sote_session_insecure_dev"
GROUPS = {"oys": "yliopistosairaanhoitopiirit", "tyks": "yliopistosairaanhoitopiirit"}
SAML_ORGS = load_organisations()
OIDC_ORGS = load_config().organisations


def group_of(org: str) -> str:
    return GROUPS.get(org, "hyvinvointialueet")


def first_user(org: str) -> tuple[str, str]:
    user = SAML_ORGS[org].users[0] if org in SAML_ORGS else OIDC_ORGS[org].users[0]
    return user.username, user.password


async def to_saml_idp(
    browser: httpx.AsyncClient, world: OrgSAMLWorld, authorize_url: str, org: str
) -> str:
    """Through the choice pages to the organisation; returns its SSO URL with the AuthnRequest."""
    first = await browser.get(authorize_url)
    assert first.headers["location"] == "/login/role"
    prefix = f"{world.org_saml_url}/{org}/sso?SAMLRequest="
    return await choose_organisation(browser, world.broker, group_of(org), org, prefix)


def authn_request(sso_url: str) -> str:
    """The AuthnRequest XML of an HTTP-Redirect URL (deflated, base64)."""
    (encoded,) = parse_qs(urlsplit(sso_url).query)["SAMLRequest"]
    return zlib.decompress(base64.b64decode(encoded), -15).decode("utf-8")


async def at_the_idp(
    browser: httpx.AsyncClient, sso_url: str, user: tuple[str, str], *, expect_form: bool = True
) -> httpx.Response:
    """At the mock: its login form (unless its own session answers), then the page that posts
    the Response back."""
    page = await browser.get(sso_url)
    assert ('name="password"' in page.text) == expect_form, page.text
    if expect_form:
        page = await post_login(browser, page, user)
    return page


async def post_login(
    browser: httpx.AsyncClient, form_page: httpx.Response, user: tuple[str, str]
) -> httpx.Response:
    form = {
        "request": hidden(form_page.text, "request"),
        "csrf_token": hidden(form_page.text, "csrf_token"),
        "username": user[0],
        "password": user[1],
    }
    return await browser.post(form_action(form_page.text), data=form)


async def back_to_broker(
    browser: httpx.AsyncClient, world: OrgSAMLWorld, answer: httpx.Response
) -> httpx.Response:
    """The auto-submitted form as a browser posts it cross-site (no SameSite=Lax cookie), then
    the broker's same-site continue; returns the broker's answer to the continue."""
    acs, saml_response, relay_state = posted_response(answer)
    assert acs == world.broker.url + "/upstream/saml/acs"
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as no_cookies:
        held = await no_cookies.post(
            acs, data={"SAMLResponse": saml_response, "RelayState": relay_state}
        )
    return await register_if_new(browser, await continued(browser, world.broker.url, held))


async def session_claims(world: OrgSAMLWorld, sid: str) -> dict[str, object]:
    """What the broker keeps of the normalised identity in the SSO session."""
    store = SQLiteStore(world.broker.settings.store.sqlite_path)
    await store.open()
    try:
        session = await store.sessions.get(sid)
    finally:
        await store.close()
    assert session is not None
    return dict(session.claims)


EXPECTED = {
    # org: (user, userinfo claims as mapped, title)
    "oys": (
        ("sanna.makela", "testi1234"),
        {
            "name": "Sanna Mäkelä",
            "given_name": "Sanna",
            "family_name": "Mäkelä",
            "email": "sanna.makela@example.pohde.fi",
        },
        "Kätilö",
    ),
    "tyks": (
        ("juha.salminen", "testi5678"),
        {
            "name": "Juha Salminen",
            "given_name": "Juha",
            "family_name": "Salminen",
            "email": "juha.salminen@example.varha.fi",
        },
        "Farmaseutti",
    ),
    "soite": (
        ("elin.sundqvist", "testi1234"),
        {
            "name": "Elin Sundqvist",
            "given_name": "Elin",
            "family_name": "Sundqvist",
            "email": "elin.sundqvist@example.soite.fi",
        },
        "Sairaanhoitaja",
    ),
}


@pytest.mark.parametrize("org", sorted(EXPECTED))
async def test_saml_organisation_login_end_to_end(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient, org: str
) -> None:
    world = org_saml_world
    user, userinfo, title = EXPECTED[org]
    await world.broker.add_client()
    client = portal_client(world.broker)
    auth = await start(client)
    sso_url = await to_saml_idp(browser, world, auth.url, org)
    sent = authn_request(sso_url)
    assert 'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"' in sent
    assert "ForceAuthn" not in sent
    back = await back_to_broker(browser, world, await at_the_idp(browser, sso_url, user))
    assert back.status_code == 303, back.text
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["acr"] == LOA2  # PasswordProtectedTransport, by the claim mapping
    assert "amr" not in claims  # the IdP names no method (no AuthenticatingAuthority)
    info = await client.userinfo(token=token)
    assert {k: info[k] for k in userinfo} == userinfo
    kept = await session_claims(world, claims["sid"])
    assert kept["organisation_id"] == org and kept["title"] == title
    assert kept["route"] == "organisation"
    assert not [v for v in kept.values() if isinstance(v, str) and re.search(r"\d{6}[-+A]", v)]


async def test_persistent_name_id_gives_the_same_sub_at_every_login(
    org_saml_world: OrgSAMLWorld,
) -> None:
    world = org_saml_world
    await world.broker.add_client()
    client = portal_client(world.broker)
    subs = []
    for user in [("anna.lindholm", "testi1234")] * 2 + [("juha.salminen", "testi5678")]:
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            auth = await start(client)
            sso_url = await to_saml_idp(browser, world, auth.url, "tyks")
            back = await back_to_broker(browser, world, await at_the_idp(browser, sso_url, user))
            token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
            subs.append(jwt_parts(token["id_token"])[1]["sub"])
    assert subs[0] == subs[1] != subs[2]


async def test_prompt_login_makes_the_idp_ask_again(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient
) -> None:
    world = org_saml_world
    await world.broker.add_client()
    client = portal_client(world.broker)
    user = EXPECTED["soite"][0]
    auth = await start(client)
    sso_url = await to_saml_idp(browser, world, auth.url, "soite")
    await back_to_broker(browser, world, await at_the_idp(browser, sso_url, user))
    # Without the broker's session the IdP's own session answers, without a form ...
    browser.cookies.delete(BROKER_SESSION_COOKIE)
    auth = await start(client, idp_hint="soite")
    sso_url = (await browser.get(auth.url)).headers["location"]
    answer = await at_the_idp(browser, sso_url, user, expect_form=False)
    assert (await back_to_broker(browser, world, answer)).status_code == 303
    # ... but prompt=login is ForceAuthn: the IdP asks for the password again.
    auth = await start(client, idp_hint="soite", prompt="login")
    sso_url = (await browser.get(auth.url)).headers["location"]
    assert 'ForceAuthn="true"' in authn_request(sso_url)
    back = await back_to_broker(browser, world, await at_the_idp(browser, sso_url, user))
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    assert (await client.parse_id_token(token, nonce=auth.nonce))["acr"] == LOA2


async def test_wrong_password_stays_at_the_idp(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient
) -> None:
    world = org_saml_world
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    sso_url = await to_saml_idp(browser, world, auth.url, "oys")
    form_page = await browser.get(sso_url)
    again = await post_login(browser, form_page, ("sanna.makela", "not-her-password"))
    assert again.status_code == 200
    assert 'role="alert"' in again.text and "SAMLResponse" not in again.text
    assert str(again.url).startswith(world.org_saml_url)
    back = await back_to_broker(browser, world, await post_login(browser, again, first_user("oys")))
    assert back.headers["location"].startswith("http://127.0.0.1:9/callback?code=")


async def test_loa3_is_not_met_by_a_password(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient
) -> None:
    world = org_saml_world
    await world.broker.add_client()
    auth = await start(portal_client(world.broker), acr_values=LOA3)
    sso_url = await to_saml_idp(browser, world, auth.url, "tyks")
    answer = await browser.get(sso_url)  # the IdP refuses at once: NoAuthnContext
    refused = await back_to_broker(browser, world, answer)
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert 'href="/login/role"' in refused.text


@pytest.mark.parametrize(
    ("org", "fault", "status"),
    [
        ("oys", "authn_failed", 400),  # the IdP said no
        ("oys", "unsigned", 502),  # OYS must sign its Assertion
        ("tyks", "signed_by_other_key", 502),  # not the key in TYKS's metadata
        ("soite", "unencrypted", 502),  # Soite's file requires encryption
    ],
)
async def test_idp_fault_ends_on_an_error_page(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient, org: str, fault: str, status: int
) -> None:
    world = org_saml_world
    await world.broker.add_client()
    await world.saml_fault(org, fault)
    auth = await start(portal_client(world.broker))
    sso_url = await to_saml_idp(browser, world, auth.url, org)
    answer = await at_the_idp(browser, sso_url, EXPECTED[org][0])
    refused = await back_to_broker(browser, world, answer)
    assert refused.status_code == status, refused.text
    assert "location" not in refused.headers
    assert "Virhetunnus" in refused.text


async def test_every_organisation_of_both_groups_logs_in(
    org_saml_world: OrgSAMLWorld,
) -> None:
    """The demo offers them all: each organisation on each group page, OIDC or SAML, one login."""
    world = org_saml_world
    await world.broker.add_client()
    client = portal_client(world.broker)
    seen: dict[str, str] = {}
    for group in ("yliopistosairaanhoitopiirit", "hyvinvointialueet"):
        for org in await organisations_on_page(world, group):
            async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
                auth = await start(client)
                await browser.get(auth.url)
                for path, choice in (
                    ("/login/role", "professional"),
                    ("/login/route", "organisation"),
                    ("/login/group", group),
                ):
                    await choose(browser, world.broker.url, path, choice)
                to_idp = await choose(browser, world.broker.url, "/login/organisation", org)
                location = to_idp.headers["location"]
                if location.startswith(world.org_saml_url):
                    answer = await at_the_idp(browser, location, first_user(org))
                    back = await back_to_broker(browser, world, answer)
                    seen[org] = "saml"
                else:
                    assert location.startswith(f"{world.idp_url}/{org}/authorize?")
                    back = await upstream_login(browser, location, first_user(org))
                    seen[org] = "oidc"
            code = callback_params(back.headers["location"])["code"]
            info = await client.userinfo(token=await redeem(client, auth, code))
            assert info["given_name"], org
    assert seen == {
        "hus": "oidc",
        "pshva": "oidc",
        "pirha": "oidc",
        "oys": "saml",
        "tyks": "saml",
        "lshp": "oidc",
        "pajjatha": "oidc",
        "soite": "saml",
    }


async def organisations_on_page(world: OrgSAMLWorld, group: str) -> list[str]:
    """The organisations the group's page offers, as a person would see them."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        await browser.get((await start(portal_client(world.broker))).url)
        await choose(browser, world.broker.url, "/login/role", "professional")
        await choose(browser, world.broker.url, "/login/route", "organisation")
        await choose(browser, world.broker.url, "/login/group", group)
        page = await browser.get(world.broker.url + "/login/organisation")
    return re.findall(r'<button type="submit" name="choice" value="([^"]+)"', page.text)


async def test_logout_after_an_organisation_without_single_logout_ends_at_the_portal(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient
) -> None:
    """The mock organisation IdPs publish no SingleLogoutService: the portal's logout ends the
    broker's session and returns to the portal (pysaml2 raised UnsupportedBinding, a 500)."""
    world = org_saml_world
    await world.broker.add_client()
    client = portal_client(world.broker)
    auth = await start(client)
    sso_url = await to_saml_idp(browser, world, auth.url, "oys")
    back = await back_to_broker(
        browser, world, await at_the_idp(browser, sso_url, EXPECTED["oys"][0])
    )
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    logout = await browser.get(
        world.broker.url + "/end_session",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "bye",
        },
    )
    assert logout.status_code == 303, logout.text
    assert logout.headers["location"] == LOGGED_OUT + "?state=bye"
    silent = await browser.get((await start(client, prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"
