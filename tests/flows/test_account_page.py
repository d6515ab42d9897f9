"""The account page through real HTTP: with the SSO session of a registered person it shows and
edits the contact details and partner organisations (the next portal gets them), lists the linked
routes, and deletes the account after a confirmation; without a session it is a clear page."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import httpx

from tests.login_walk import choose_organisation, hidden_inputs, log_in, upstream_login
from tests.mail import last_code
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld

SCOPES = ("openid", "profile", "email", "phone", "professional")


async def logged_in(world: JourneyWorld, browser: httpx.AsyncClient) -> dict[str, Any]:
    """A login (the first one registers) and what the portal's userinfo says."""
    client = portal_client(world.broker, scope=" ".join(SCOPES))
    auth = await start(client)
    back = await log_in(browser, world.broker, auth.url)
    tokens = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    info: dict[str, Any] = await client.userinfo(token=tokens)
    return info


def value(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', page.text)
    assert found, name
    return found.group(1)


def audit(world: JourneyWorld) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
        rows = db.execute("SELECT action, changes FROM account_audit ORDER BY at, rowid")
        return [(action, json.loads(changes)) for action, changes in rows]


async def test_edit_the_details_and_the_next_portal_gets_them(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client(allowed_scopes=SCOPES)
    before = await logged_in(world, browser)
    url = world.broker.url + "/account"
    page = await browser.get(url)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert value(page, "phone") == "+358500000101"
    assert "HUS – Helsingin ja Uudenmaan sairaanhoitopiiri" in page.text  # noqa: RUF001 (linked)
    form = {**hidden_inputs(page.text), "email": value(page, "email")}

    refused = await browser.post(url, data={**form, "phone": "12", "action": "save"})
    assert refused.status_code == 400 and "Puhelinnumero ei ole kelvollinen" in refused.text
    assert value(refused, "phone") == "12"

    searched = await browser.post(
        url, data={**form, "phone": "040 765 4321", "q": "tamk", "action": "search"}
    )
    assert searched.status_code == 200 and "add:school:tamk" in searched.text
    saved = await browser.post(
        url,
        data={**hidden_inputs(searched.text), "phone": "040 765 4321",
              "email": "maija.uusi@example.fi", "action": "add:school:tamk",
              "partner": ["org:hus"]},
    )  # fmt: skip
    assert saved.status_code == 200  # adding is a step of its own; saving is the button
    done = await browser.post(
        url,
        data={**hidden_inputs(saved.text), "phone": "040 765 4321",
              "email": "maija.uusi@example.fi", "action": "save",
              "partner": ["org:hus", "school:tamk"]},
    )  # fmt: skip
    assert done.status_code == 200 and "Vahvista uusi sähköpostiosoite" in done.text
    confirmed = await browser.post(  # a new address is the account's with its code only
        world.broker.url + "/account/email",
        data={**hidden_inputs(done.text), "code": last_code("maija.uusi@example.fi")},
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/account?saved=email"

    after = await logged_in(world, browser)  # the SSO session answers with the new details
    assert after["sub"] == before["sub"]
    assert after["phone_number"] == "+358407654321"
    assert after["email"] == "maija.uusi@example.fi" and after["email_verified"] is True
    assert [o["id"] for o in after["partner_organisations"]] == ["org:hus", "school:tamk"]
    (edited, changes), (changed, email) = audit(world)[-2:]
    assert edited == "edited" and changes["fields"] == ["phone", "partners"]
    assert changed == "edited" and email == {"fields": ["email"], "confirmed": True}
    assert "maija" not in json.dumps(changes) and "765" not in json.dumps(changes)

    saved = await browser.post(  # no change of address: saved at once
        url, data={**hidden_inputs(done.text), "phone": "040 765 4322",
                   "email": "maija.uusi@example.fi", "action": "save",
                   "partner": ["org:hus"]},
    )  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/account?saved=1"
    shown = await browser.get(world.broker.url + saved.headers["location"])
    assert "Muutokset tallennettiin" in shown.text


async def test_delete_asks_for_confirmation_then_removes_the_account_and_the_session(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client(allowed_scopes=SCOPES)
    first = await logged_in(world, browser)
    delete_url = world.broker.url + "/account/delete"
    confirm = await browser.get(delete_url)
    assert "Haluatko varmasti poistaa tilisi?" in confirm.text
    unticked = await browser.post(delete_url, data=hidden_inputs(confirm.text))
    assert unticked.status_code == 400 and "rastittamalla ruutu" in unticked.text
    forged = await browser.post(delete_url, data={"csrf_token": "x", "confirm": "yes"})
    assert forged.status_code == 400
    gone = await browser.post(delete_url, data={**hidden_inputs(confirm.text), "confirm": "yes"})
    assert gone.status_code == 200 and "Tili on poistettu" in gone.text
    with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM account_links").fetchone() == (0,)
    assert [a for a, _ in audit(world)] == ["registered", "deleted"]

    after = await browser.get(world.broker.url + "/account")  # no session: a login first
    assert after.status_code == 303 and after.headers["location"] == "/login/role"
    again = await logged_in(world, browser)  # registers anew: a new account, a new sub
    assert again["sub"] != first["sub"]


async def test_a_csrf_token_from_another_browsers_session_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """The token binds the form to one SSO session: browser A's token (the same person, even)
    does not confirm browser B's delete."""
    await world.broker.add_client(allowed_scopes=SCOPES)
    await logged_in(world, browser)
    delete_url = world.broker.url + "/account/delete"
    token_of_a = hidden_inputs((await browser.get(delete_url)).text)["csrf_token"]
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other:
        await logged_in(world, other)
        own = hidden_inputs((await other.get(delete_url)).text)["csrf_token"]
        assert own != token_of_a
        forged = await other.post(delete_url, data={"csrf_token": token_of_a, "confirm": "yes"})
        assert forged.status_code == 400
        assert "Tili on poistettu" not in forged.text
        with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
            assert db.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
        assert (await other.get(world.broker.url + "/account")).status_code == 200


async def test_without_a_session_the_account_page_logs_the_person_in_first(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """Straight to /account (a bookmark): the login journey, registration the first time, then
    the account page with an SSO session that later serves portals too."""
    await world.broker.add_client()
    first = await browser.get(world.broker.url + "/account?ui_locales=sv")
    assert first.status_code == 303 and first.headers["location"] == "/login/role"
    role = await browser.get(world.broker.url + "/login/role")
    assert 'lang="sv"' in role.text
    back = await upstream_login(browser, await choose_organisation(browser, world.broker))
    assert back.status_code == 303 and back.headers["location"] == "/account"
    page = await browser.get(world.broker.url + "/account")
    assert page.status_code == 200 and value(page, "phone") == "+358500000101"
    portal = await start(portal_client(world.broker))
    sso = await browser.get(portal.url)  # the session answers a portal without a login
    assert "code" in callback_params(sso.headers["location"])


async def test_forms_without_a_session_are_refused_with_a_clear_page(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    for path in ("/account", "/account/delete"):
        posted = await browser.post(world.broker.url + path, data={"confirm": "yes"})
        assert posted.status_code == 401
        assert "Kirjaudu ensin" in posted.text and "Traceback" not in posted.text
