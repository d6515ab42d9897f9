"""A person walking the login journey with httpx: choices, the mock IdP, registration."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from tests.brokers import RunningBroker
from tests.mail import last_code


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


HUS_USER = ("maija.meikalainen", "testi1234")

HUS_USER_NAME = "Maija Meikäläinen"


async def choose(browser: httpx.AsyncClient, base: str, path: str, choice: str) -> httpx.Response:
    """One journey step: GET its page, POST its form with `choice`."""
    page = await browser.get(base + path)
    assert page.status_code == 200, page.text
    return await browser.post(base + path, data={**hidden_inputs(page.text), "choice": choice})


async def upstream_login(
    browser: httpx.AsyncClient,
    idp_authorize_url: str,
    user: tuple[str, str] = HUS_USER,
    *,
    register: bool = True,
) -> httpx.Response:
    """At the mock IdP: its login form (unless its own session answers), then back to the
    broker's callback; a person without an account registers there (unless `register` is
    False: then the callback's answer as it is)."""
    form_page = await browser.get(idp_authorize_url)
    if form_page.status_code in (302, 303):
        answer = await browser.get(form_page.headers["location"])
        return await register_if_new(browser, answer) if register else answer
    assert form_page.status_code == 200, form_page.text
    action = form_page.text.split('<form method="post" action="')[1].split('"')[0]
    if not action.startswith("http"):
        parts = urlsplit(idp_authorize_url)
        action = f"{parts.scheme}://{parts.netloc}{action}"
    posted = await browser.post(
        action, data={**hidden_inputs(form_page.text), "username": user[0], "password": user[1]}
    )
    assert posted.status_code in (302, 303), posted.text
    answer = await browser.get(posted.headers["location"])
    return await register_if_new(browser, answer) if register else answer


TEST_PHONE = "040 123 4567"

TEST_EMAIL = "testi.ammattilainen@example.fi"

TEST_PARTNER = "area:pirkanmaa"


async def register_if_new(
    browser: httpx.AsyncClient,
    answer: httpx.Response,
    *,
    phone: str = TEST_PHONE,
    email: str | None = None,
    partner: str = TEST_PARTNER,
) -> httpx.Response:
    """After an upstream login: a person without an account registers once (the form as the
    IdP pre-filled it, completed with `phone`, `email` and `partner` where it left them empty,
    then the code from the mail sink); returns the broker's answer that goes on to the portal."""
    if answer.status_code != 303 or answer.headers["location"] != "/account/register":
        return answer
    base = f"{answer.request.url.scheme}://{answer.request.url.netloc.decode()}"
    form_page = await browser.get(base + "/account/register")
    assert form_page.status_code == 200, form_page.text
    fields = hidden_inputs(form_page.text)
    typed_phone = _input_value(form_page.text, "phone") or phone
    typed_email = email or _input_value(form_page.text, "email") or TEST_EMAIL
    partners = re.findall(r'name="partner" value="([^"]+)"', form_page.text) or [partner]
    data = {
        **fields,
        "phone": typed_phone,
        "email": typed_email,
        "eligible": "yes",
        "action": "continue",
    }
    sent = await browser.post(base + "/account/register", data={**data, "partner": partners})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/account/confirm"
    code_page = await browser.get(base + "/account/confirm")
    assert code_page.status_code == 200, code_page.text
    code = last_code(typed_email)
    confirmed = await browser.post(
        base + "/account/confirm",
        data={**hidden_inputs(code_page.text), "code": code, "action": "confirm"},
    )
    assert confirmed.status_code == 303, confirmed.text
    return confirmed


def _input_value(html: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', html)
    return found.group(1) if found else ""


async def choose_organisation(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    group: str = "yliopistosairaanhoitopiirit",
    org: str = "hus",
    idp_prefix: str | None = None,
) -> str:
    """From the role page through the choice pages; returns the IdP's URL, which must start with
    `idp_prefix` (default: the organisation's authorization endpoint at the mock OIDC IdP)."""
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", group),
    ):
        assert (await choose(browser, broker.url, path, choice)).status_code == 303
    to_idp = await choose(browser, broker.url, "/login/organisation", org)
    assert to_idp.status_code == 303, to_idp.text
    location = str(to_idp.headers["location"])
    assert location.startswith(idp_prefix or f"{broker.idp_url}/{org}/authorize?"), location
    return location


async def walk_to_idp(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    authorize_url: str,
    group: str = "yliopistosairaanhoitopiirit",
    org: str = "hus",
) -> str:
    first = await browser.get(authorize_url)
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/login/role"
    return await choose_organisation(browser, broker, group, org)


async def log_in(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    authorize_url: str,
    user: tuple[str, str] = HUS_USER,
) -> httpx.Response:
    """The whole login from the portal's authorization URL: returns the broker's response that
    redirects back to the portal (at once when an SSO session answers)."""
    first = await browser.get(authorize_url)
    assert first.status_code == 303, first.text
    if first.headers["location"] != "/login/role":
        return first
    return await upstream_login(browser, await choose_organisation(browser, broker), user)
