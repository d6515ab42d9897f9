"""Registration as the seeds describe it, through real HTTP: organisation identification makes the
account at the first login with no form ("the first time and later" with the organisation's own
credentials), the personal route registers once on the form, an organisation configured
`registration: required` shows the form too, and a changed e-mail address on the account page
needs the code sent to it."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import httpx
import pytest

from tests.login_walk import choose_organisation, hidden_inputs, upstream_login, walk_to_idp
from tests.mail import last_code
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld

HUS_EMAIL = "maija.meikalainen@example.hus.fi"
SCOPES = ("openid", "profile", "email", "phone", "professional")


async def accounts(world: JourneyWorld) -> list[dict[str, Any]]:
    rows = await world.broker.query("SELECT phone, email, email_verified_at FROM accounts")
    return [dict(row) for row in rows]


async def registered_audit(world: JourneyWorld) -> list[dict[str, Any]]:
    rows = await world.broker.query("SELECT changes FROM account_audit WHERE action = 'registered'")
    return [json.loads(row["changes"]) for row in rows]


async def test_an_organisation_login_reaches_the_portal_without_a_registration_form(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client(allowed_scopes=SCOPES)
    client = portal_client(world.broker, scope=" ".join(SCOPES))
    auth = await start(client)
    back = await upstream_login(
        browser, await walk_to_idp(browser, world.broker, auth.url), register=False
    )
    assert back.status_code == 303, back.text
    assert "code" in callback_params(back.headers["location"])  # straight to the portal
    tokens = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    info = await client.userinfo(token=tokens)
    assert [org["id"] for org in info["partner_organisations"]] == ["org:hus"]
    assert info["phone_number"] == "+358500000101"  # what HUS's IdP said
    # HUS's IdP is not configured as verifying e-mail (verifies_email): unverified until a code
    assert info["email"] == HUS_EMAIL and info["email_verified"] is False
    [account] = await accounts(world)
    assert account["email"] == HUS_EMAIL and account["email_verified_at"] is None
    assert await registered_audit(world) == [
        {"idp": "hus", "partners": ["org:hus"], "automatic": True}
    ]

    browser.cookies.clear()  # later: the same account, still no form
    auth2 = await start(client, prompt="login")
    back2 = await upstream_login(
        browser, await walk_to_idp(browser, world.broker, auth2.url), register=False
    )
    tokens2 = await redeem(client, auth2, callback_params(back2.headers["location"])["code"])
    assert (await client.userinfo(token=tokens2))["sub"] == info["sub"]
    assert len(await accounts(world)) == 1


@pytest.mark.parametrize("required_registration", [("hus",)])
async def test_an_organisation_configured_required_shows_the_form(
    world: JourneyWorld, browser: httpx.AsyncClient, required_registration: Collection[str]
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    back = await upstream_login(
        browser, await walk_to_idp(browser, world.broker, auth.url), register=False
    )
    assert back.status_code == 303 and back.headers["location"] == "/account/register"
    assert await accounts(world) == []


async def email_change_page(
    world: JourneyWorld, browser: httpx.AsyncClient, new_email: str
) -> httpx.Response:
    """An account made by a HUS login (its SSO session in `browser`), and its page saved with
    `new_email`: the page that asks for the code."""
    first = await browser.get(world.broker.url + "/account")  # a login for the account page
    assert first.headers["location"] == "/login/role"
    back = await upstream_login(browser, await choose_organisation(browser, world.broker))
    assert back.status_code == 303 and back.headers["location"] == "/account"
    page = await browser.get(world.broker.url + "/account")
    form = {
        **hidden_inputs(page.text),
        "phone": "040 765 4321",
        "email": new_email,
        "partner": ["org:hus"],
        "action": "save",
    }
    return await browser.post(world.broker.url + "/account", data=form)


async def test_a_changed_email_address_is_the_accounts_only_with_the_code_sent_to_it(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    asked = await email_change_page(world, browser, "maija.uusi@example.fi")
    assert asked.status_code == 200 and "Vahvista uusi sähköpostiosoite" in asked.text
    [account] = await accounts(world)
    assert account["email"] == HUS_EMAIL  # not yet: the code first
    assert account["phone"] == "+358407654321"  # the rest is saved at once

    url = world.broker.url + "/account/email"
    code = last_code("maija.uusi@example.fi")
    wrong = "000000" if code != "000000" else "111111"
    refused = await browser.post(url, data={**hidden_inputs(asked.text), "code": wrong})
    assert refused.status_code == 400 and "Koodi ei ole oikein" in refused.text
    [account] = await accounts(world)
    assert account["email"] == HUS_EMAIL and account["email_verified_at"] is None

    forged = await browser.post(  # the code, with another address in the form
        url, data={**hidden_inputs(asked.text), "new_email": "evil@example.fi", "code": code}
    )
    assert forged.status_code == 400
    assert (await accounts(world))[0]["email"] == HUS_EMAIL

    done = await browser.post(url, data={**hidden_inputs(asked.text), "code": code})
    assert done.status_code == 303 and done.headers["location"] == "/account?saved=email"
    shown = await browser.get(world.broker.url + done.headers["location"])
    assert "Sähköpostiosoite on vaihdettu ja vahvistettu" in shown.text
    [account] = await accounts(world)
    assert account["email"] == "maija.uusi@example.fi"
    assert account["email_verified_at"] is not None

    await world.broker.add_client(allowed_scopes=SCOPES)  # the next portal gets it, verified
    client = portal_client(world.broker, scope=" ".join(SCOPES))
    auth = await start(client)
    sso = await browser.get(auth.url)
    tokens = await redeem(client, auth, callback_params(sso.headers["location"])["code"])
    info = await client.userinfo(token=tokens)
    assert info["email"] == "maija.uusi@example.fi" and info["email_verified"] is True


async def test_an_email_change_without_the_session_that_asked_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient, attacker: httpx.AsyncClient
) -> None:
    """The code form of someone else's session: no account page without an SSO session, and
    the CSRF token of another session is refused."""
    asked = await email_change_page(world, browser, "maija.uusi@example.fi")
    code = last_code("maija.uusi@example.fi")
    url = world.broker.url + "/account/email"
    stranger = await attacker.post(url, data={**hidden_inputs(asked.text), "code": code})
    assert stranger.status_code in (400, 401, 403)
    assert (await accounts(world))[0]["email"] == HUS_EMAIL
