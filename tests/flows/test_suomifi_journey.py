"""The personal route end to end: portal → broker → mock Suomi.fi (SAML, signed and encrypted)
→ the broker's ACS → same-site continue → portal. The ACS POST is made the way a browser makes a
cross-site POST: without the broker's SameSite=Lax cookies."""

from __future__ import annotations

import html
import re

import httpx

from tests.conftest import SAMLWorld, choose
from tests.portal_client import callback_params, portal_client, redeem, start

TESSA = "010280-952L"
CARD = "urn:oid:1.2.246.517.3002.110.2"


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} on the page"
    return html.unescape(match.group(1))


async def to_suomifi(browser: httpx.AsyncClient, world: SAMLWorld, authorize_url: str) -> str:
    first = await browser.get(authorize_url)
    assert first.headers["location"] == "/login/role"
    await choose(browser, world.broker.url, "/login/role", "professional")
    to_idp = await choose(browser, world.broker.url, "/login/route", "personal")
    assert to_idp.status_code == 303, to_idp.text
    location = str(to_idp.headers["location"])
    assert location.startswith(world.suomifi_url + "/sso?SAMLRequest=")
    return location


async def suomifi_answer(
    browser: httpx.AsyncClient, sso_url: str, method: str = "varmennekortti", hetu: str = TESSA
) -> tuple[str, dict[str, str]]:
    """Pick the method and the test person; returns the ACS URL and the auto-submitted form."""
    picker = await browser.get(sso_url)
    if picker.status_code in (302, 303):
        picker = await browser.get(picker.headers["location"])
    assert picker.status_code == 200, picker.text
    action = html.unescape(re.findall(r'<form method="post" action="([^"]+)"', picker.text)[0])
    answer = await browser.post(
        action,
        data={
            "request": _hidden(picker.text, "request"),
            "csrf_token": _hidden(picker.text, "csrf_token"),
            "method": method,
            "hetu": hetu,
        },
    )
    assert answer.status_code == 200, answer.text
    acs = html.unescape(
        re.findall(r'<form id="saml-post" method="post" action="([^"]+)"', answer.text)[0]
    )
    return acs, {n: _hidden(answer.text, n) for n in ("SAMLResponse", "RelayState")}


async def cross_site_post(url: str, form: dict[str, str]) -> httpx.Response:
    """A cross-site POST: the browser sends no SameSite=Lax cookie with it."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as no_cookies:
        return await no_cookies.post(url, data=form)


async def test_personal_identification_with_a_certificate_card(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    client = portal_client(saml_world.broker)
    auth = await start(client, acr_values="http://ftn.ficora.fi/2017/loa3")
    acs, form = await suomifi_answer(browser, await to_suomifi(browser, saml_world, auth.url))
    assert acs == saml_world.broker.url + "/upstream/saml/acs"
    held = await cross_site_post(acs, form)
    assert held.status_code == 303
    assert held.headers["location"] == "/upstream/saml/continue"
    back = await browser.get(saml_world.broker.url + "/upstream/saml/continue")
    assert back.status_code == 303, back.text
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["acr"] == "http://ftn.ficora.fi/2017/loa3"
    assert claims["amr"] == [CARD]
    assert TESSA not in claims["sub"] and len(claims["sub"]) == 32
    info = await client.userinfo(token=token)
    assert info["family_name"] and info["given_name"]
    assert TESSA not in str(info)  # the identity code is not released (no release policy yet)


async def test_a_response_replayed_into_another_browser_is_refused(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    auth = await start(portal_client(saml_world.broker))
    acs, form = await suomifi_answer(browser, await to_suomifi(browser, saml_world, auth.url))
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as attacker:
        other_auth = await start(portal_client(saml_world.broker))
        await attacker.get(other_auth.url)  # the attacker's own login, with its own cookie
        held = await attacker.post(acs, data=form)
        assert held.status_code == 303
        stolen = await attacker.get(saml_world.broker.url + "/upstream/saml/continue")
    assert stolen.status_code == 400
    assert "location" not in stolen.headers


async def test_bank_login_does_not_satisfy_loa3(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    auth = await start(
        portal_client(saml_world.broker), acr_values="http://ftn.ficora.fi/2017/loa3"
    )
    acs, form = await suomifi_answer(
        browser, await to_suomifi(browser, saml_world, auth.url), method="pankkitunnukset"
    )
    await cross_site_post(acs, form)
    refused = await browser.get(saml_world.broker.url + "/upstream/saml/continue")
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert 'href="/login/role"' in refused.text


async def test_sp_metadata_is_published_and_signed(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(saml_world.broker.url + "/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    body = response.text
    assert f'entityID="{saml_world.broker.url}/saml/metadata"' in body
    assert "SignatureValue" in body
    assert saml_world.broker.url + "/upstream/saml/acs" in body
    assert "urn:oid:1.2.246.21" in body
