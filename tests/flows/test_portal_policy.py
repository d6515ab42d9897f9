"""A portal's own policy, through a running broker: the choice pages offer only the portal's
routes, groups and organisations; a forged choice of anything else is refused with a page and
starts nothing; a portal requiring loa3 gets its upstream login asked at loa3, no code for a
loa2 answer (an OIDC error back to it, unmet_authentication_requirements, and a page for the
person), its requests' lower acr_values raised, and never an ID token below loa3."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import httpx

from tests.flows.suomifi import (
    LOA2,
    LOA3,
    back_at_broker,
    log_in_with_suomifi,
    saml_message,
    suomifi_answer,
    to_suomifi,
)
from tests.flows.test_suomifi_attacks import answer, forge, impostor, login_at_suomifi
from tests.login_walk import choose, log_in
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.upstream.saml.saml_forge import Forge
from tests.worlds import JourneyWorld, SAMLWorld

__all__ = ["forge", "impostor"]  # fixtures of the attacks' module, used here too


def buttons(page: httpx.Response) -> list[str]:
    """The choices a page offers (its submit buttons)."""
    assert page.status_code == 200, page.text
    return re.findall(r'name="choice" value="([^"]+)"', page.text)


async def test_the_choice_pages_list_only_the_portals_groups_and_organisations(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """PIRHA and PSHVA only (both university hospital districts): the other group and the other
    organisations of the group are not on the pages."""
    broker = world.broker
    await broker.add_client(idps=("pirha", "pshva"))
    auth = await start(portal_client(broker))
    assert (await browser.get(auth.url)).headers["location"] == "/login/role"
    await choose(browser, broker.url, "/login/role", "professional")
    await choose(browser, broker.url, "/login/route", "organisation")
    assert buttons(await browser.get(broker.url + "/login/group")) == [
        "yliopistosairaanhoitopiirit"
    ]
    await choose(browser, broker.url, "/login/group", "yliopistosairaanhoitopiirit")
    listed = buttons(await browser.get(broker.url + "/login/organisation"))
    assert sorted(listed) == ["pirha", "pshva"]


async def test_a_forged_post_for_an_organisation_the_portal_does_not_offer_starts_nothing(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client(idps=("pirha",))
    browser.headers["Accept-Language"] = "sv-FI, sv;q=0.9"
    auth = await start(portal_client(broker))
    await browser.get(auth.url)
    await choose(browser, broker.url, "/login/role", "professional")
    await choose(browser, broker.url, "/login/route", "organisation")
    await choose(browser, broker.url, "/login/group", "yliopistosairaanhoitopiirit")
    forged = await choose(browser, broker.url, "/login/organisation", "hus")
    assert forged.status_code == 400, forged.text
    assert "location" not in forged.headers
    assert "Valet kunde inte behandlas" in forged.text  # in the person's language (sv)
    [row] = await broker.query("SELECT data FROM transactions")
    assert json.loads(row["data"]).get("idp") is None  # nothing started
    # the same login goes on with what the portal offers
    to_idp = await choose(browser, broker.url, "/login/organisation", "pirha")
    assert to_idp.headers["location"].startswith(f"{broker.idp_url}/pirha/authorize?")


async def test_a_portal_with_one_route_offers_it_alone_and_refuses_the_other(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    """Personal identification only: the route page lists it alone; a forged POST of the
    organisation route is refused; the login through Suomi.fi goes through."""
    broker = saml_world.broker
    await broker.add_client(routes=("personal",))
    client = portal_client(broker)
    auth = await start(client)
    await browser.get(auth.url)
    await choose(browser, broker.url, "/login/role", "professional")
    assert buttons(await browser.get(broker.url + "/login/route")) == ["personal"]
    forged = await choose(browser, broker.url, "/login/route", "organisation")
    assert forged.status_code == 400, forged.text
    assert "location" not in forged.headers
    assert "Virhetunnus" in forged.text
    _, tokens = await log_in_with_suomifi(saml_world, browser, client)
    assert tokens["id_token"]


async def test_a_portal_requiring_loa3_asks_suomifi_for_loa3_and_refuses_a_bank_login(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    """The AuthnRequest asks exactly loa3; online bank (loa2) at the mock is refused; the
    person gets a page in their language, and the way back gives the portal
    unmet_authentication_requirements with its state, and no code."""
    broker = saml_world.broker
    await broker.add_client(minimum_acr=LOA3, client_name="Mielenterveystalo ammattilaisille")
    auth = await start(portal_client(broker))  # no acr_values in the request
    sso_url = await to_suomifi(browser, saml_world, auth.url)
    asked = saml_message(sso_url)
    assert f">{LOA3}</" in asked and LOA2 not in asked, asked
    acs, form = await suomifi_answer(browser, sso_url, "pankkitunnukset")
    page = await back_at_broker(browser, saml_world, acs, form)
    assert page.status_code == 400, page.text
    assert "location" not in page.headers
    assert "Tunnistautuminen ei riittänyt palvelulle" in page.text
    assert "Palaa palveluun Mielenterveystalo ammattilaisille" in page.text
    assert 'href="/login/role"' in page.text  # or another way of identifying
    back = await browser.get(broker.url + "/login/return")
    params = callback_params(back.headers["location"])
    assert params["error"] == "unmet_authentication_requirements"
    assert params["state"] == auth.state and "code" not in params
    again = await browser.get(broker.url + "/login/return")  # the login is over
    assert again.status_code == 400 and "location" not in again.headers


async def test_a_loa2_answer_to_a_loa3_portal_is_refused_by_the_broker_itself(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, forge: Forge
) -> None:
    """Suomi.fi answering loa2 despite the request (the mock would refuse; the forge signs with
    its key): the broker's own check refuses it, and no code follows."""
    await saml_world.broker.add_client(minimum_acr=LOA3)
    login = await login_at_suomifi(browser, saml_world)
    bank = forge.genuine(replace(login.statement, class_ref=LOA2))
    page = await answer(browser, saml_world.broker.url, login, bank)
    assert page.status_code == 400, page.text
    assert "location" not in page.headers
    back = await browser.get(saml_world.broker.url + "/login/return")
    assert callback_params(back.headers["location"])["error"] == (
        "unmet_authentication_requirements"
    )


async def test_acr_values_below_the_minimum_are_raised_and_the_id_token_says_loa3(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client(minimum_acr=LOA3)
    client = portal_client(saml_world.broker)
    auth = await start(client, acr_values=LOA2)
    sso_url = await to_suomifi(browser, saml_world, auth.url)
    asked = saml_message(sso_url)
    assert f">{LOA3}</" in asked and LOA2 not in asked, asked
    acs, form = await suomifi_answer(browser, sso_url, "varmennekortti")
    back = await back_at_broker(browser, saml_world, acs, form)
    tokens = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    claims = await client.parse_id_token(tokens, nonce=auth.nonce)
    assert claims["acr"] == LOA3


async def test_an_sso_session_at_loa2_gives_a_loa3_portal_no_code(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    """Logged in to one portal with online bank (loa2), the person goes to a portal requiring
    loa3: the session does not answer it; a fresh login does."""
    broker = saml_world.broker
    await broker.add_client("bank-ok")
    await broker.add_client("strict", minimum_acr=LOA3)
    await log_in_with_suomifi(
        saml_world, browser, portal_client(broker, "bank-ok"), "pankkitunnukset"
    )
    strict = portal_client(broker, "strict")
    auth = await start(strict)
    went = await browser.get(auth.url)
    assert went.headers["location"] == "/login/role", went.headers["location"]


async def test_a_minimum_raised_during_the_login_still_gives_no_code_below_it(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    """The operator raises the portal's minimum while a bank login is at Suomi.fi: the login
    asked nothing, but the code is not issued below the minimum (the last check, at issuance);
    the portal gets unmet_authentication_requirements at once."""
    broker = saml_world.broker
    await broker.add_client()
    auth = await start(portal_client(broker))
    sso_url = await to_suomifi(browser, saml_world, auth.url)
    acs, form = await suomifi_answer(browser, sso_url, "pankkitunnukset")
    await broker.add_client(minimum_acr=LOA3)
    back = await back_at_broker(browser, saml_world, acs, form)
    assert back.status_code == 303, back.text
    params = callback_params(back.headers["location"])
    assert params["error"] == "unmet_authentication_requirements"
    assert "code" not in params and params["state"] == auth.state


async def test_an_idp_hint_at_an_organisation_the_portal_does_not_offer_is_not_followed(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client(idps=("pirha",))
    auth = await start(portal_client(broker), idp_hint="hus")
    first = await browser.get(auth.url)
    assert first.headers["location"] == "/login/role"


async def test_an_sso_session_from_an_organisation_the_portal_does_not_offer_answers_it_not(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """Logged in at HUS for one portal, the person goes to a portal that offers PIRHA only:
    the HUS session gives it no code (not even for prompt=none); the portal's own choice
    pages do, and a portal that restricts nothing is still answered by the session."""
    broker = world.broker
    await broker.add_client("open")
    await broker.add_client("pirha-only", idps=("pirha",))
    first = await log_in(browser, broker, (await start(portal_client(broker, "open"))).url)
    assert "code" in callback_params(first.headers["location"])
    only = portal_client(broker, "pirha-only")
    went = await browser.get((await start(only)).url)
    assert went.headers["location"] == "/login/role", went.headers["location"]
    silent = await start(only, prompt="none")
    refused = callback_params((await browser.get(silent.url)).headers["location"])
    assert refused["error"] == "login_required" and "code" not in refused
    again = await browser.get((await start(portal_client(broker, "open"))).url)
    assert "code" in callback_params(again.headers["location"])


async def test_the_way_back_to_the_portal_is_only_for_a_refused_login_of_this_browser(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """/login/return ends a login with an error to its portal only after a refused answer: a
    login in progress is not ended by a link to it, nor by another browser without its cookie."""
    broker = world.broker
    await broker.add_client()
    auth = await start(portal_client(broker))
    assert (await browser.get(auth.url)).headers["location"] == "/login/role"
    early = await browser.get(broker.url + "/login/return")
    assert early.status_code == 400 and "location" not in early.headers
    async with httpx.AsyncClient() as stranger:
        elsewhere = await stranger.get(broker.url + "/login/return")
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    still = await browser.get(broker.url + "/login/role")  # the login goes on
    assert still.status_code == 200
