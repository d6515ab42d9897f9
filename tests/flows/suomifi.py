"""A browser's way through the personal route: the broker's choice pages, the mock Suomi.fi's
picker, the cross-site POST to the ACS and the same-site continue, and the SAML messages of
single logout as they travel in redirect URLs."""

from __future__ import annotations

import base64
import html
import re
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.starlette_client import StarletteOAuth2App

from tests.login_walk import choose, register_if_new
from tests.portal_client import Authorization, callback_params, redeem, start
from tests.worlds import SAMLWorld

TESSA = "010280-952L"
LOA2, LOA3 = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"
BANK, CARD, MOBILE = (f"urn:oid:1.2.246.517.3002.110.{n}" for n in (1, 2, 3))


def hidden(page: str, name: str) -> str:
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


def posted(answer: httpx.Response) -> tuple[str, dict[str, str]]:
    """The mock's auto-submitting form: the ACS URL and its fields."""
    assert answer.status_code == 200, answer.text
    acs = html.unescape(
        re.findall(r'<form id="saml-post" method="post" action="([^"]+)"', answer.text)[0]
    )
    return acs, {n: hidden(answer.text, n) for n in ("SAMLResponse", "RelayState")}


async def suomifi_answer(
    browser: httpx.AsyncClient, sso_url: str, method: str = "varmennekortti", hetu: str = TESSA
) -> tuple[str, dict[str, str]]:
    """Pick the method and the test person; returns the ACS URL and the auto-submitted form."""
    picker = await browser.get(sso_url)
    assert picker.status_code == 200, picker.text
    assert "saml-post" not in picker.text, "the mock answered from its session, no picker"
    action = html.unescape(re.findall(r'<form method="post" action="([^"]+)"', picker.text)[0])
    answer = await browser.post(
        action,
        data={
            "request": hidden(picker.text, "request"),
            "csrf_token": hidden(picker.text, "csrf_token"),
            "method": method,
            "hetu": hetu,
        },
    )
    return posted(answer)


async def cross_site_post(url: str, form: dict[str, str]) -> httpx.Response:
    """A cross-site POST: the browser sends no SameSite=Lax cookie with it."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as no_cookies:
        return await no_cookies.post(url, data=form)


async def back_at_broker(
    browser: httpx.AsyncClient, world: SAMLWorld, acs: str, form: dict[str, str]
) -> httpx.Response:
    """The ACS POST and the same-site continue: the broker's answer for the portal."""
    held = await cross_site_post(acs, form)  # a refusal there is the broker's answer
    return await register_if_new(browser, await continued(browser, world.broker.url, held))


async def continued(
    browser: httpx.AsyncClient, broker_url: str, held: httpx.Response
) -> httpx.Response:
    """After the ACS's answer to the cross-site POST, the same-site continue to the Location it
    gave the posting browser (with the single-use handle); a refusal at the ACS as it is."""
    if held.status_code != 303:
        return held
    location = held.headers["location"]
    assert location.startswith("/upstream/saml/continue?h="), location
    return await browser.get(broker_url + location)


async def log_in_with_suomifi(
    world: SAMLWorld,
    browser: httpx.AsyncClient,
    client: StarletteOAuth2App,
    method: str = "varmennekortti",
    **params: Any,
) -> tuple[Authorization, dict[str, Any]]:
    """A whole login through the personal route: the authorization and the portal's tokens."""
    auth = await start(client, **params)
    acs, form = await suomifi_answer(browser, await to_suomifi(browser, world, auth.url), method)
    back = await back_at_broker(browser, world, acs, form)
    assert back.status_code == 303, back.text
    return auth, await redeem(client, auth, callback_params(back.headers["location"])["code"])


def next_hop(response: httpx.Response) -> str:
    """Where the broker sends the browser: a redirect's Location, or the page that goes on at
    once (meta refresh, and the same URL as a link) on its way to the IdP's single logout."""
    if response.status_code == 303:
        return str(response.headers["location"])
    assert response.status_code == 200, response.text
    refresh = re.findall(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', response.text)
    assert len(refresh) == 1, response.text
    url = html.unescape(refresh[0])
    assert f'href="{refresh[0]}"' in response.text  # without a refresh, a link
    return url


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def saml_message(url: str) -> str:
    """The inflated SAMLRequest or SAMLResponse of an HTTP-Redirect binding URL."""
    params = query(url)
    encoded = params.get("SAMLRequest") or params["SAMLResponse"]
    return zlib.decompress(base64.b64decode(encoded), -15).decode()
