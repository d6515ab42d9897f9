"""An upstream answer continues only in the browser that began the login and received it.

The attack (reported by an outside review against an earlier main): an attacker starts a login
at a portal and stops at the redirect to the IdP; that URL is a genuine, broker-signed
AuthnRequest. A victim who is sent the URL logs in (or, with `prompt=none`, is answered
silently from their IdP session); the IdP posts the answer from the victim's browser. The
attacker then continued the login in their own browser, as the victim. Here every variant is
played through real HTTP with two cookie jars (the browser tests play it in two Chromium
contexts): the Suomi.fi route, an organisation's SAML IdP, `prompt=none`, linking a route to the
victim's account, and the OIDC upstream callback. Each ends with nothing issued to the attacker,
and the victim's own login still working.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.flows.binding import ELSEWHERE, attacker_gets_nothing, hinted_idp_url, victim_refused
from tests.flows.suomifi import (
    TESSA,
    back_at_broker,
    continued,
    cross_site_post,
    log_in_with_suomifi,
    posted,
    suomifi_answer,
    to_suomifi,
)
from tests.flows.test_org_saml_journey import at_the_idp, first_user
from tests.login_walk import HUS_USER, upstream_login, walk_to_idp
from tests.mock_idps.saml_sp import posted_response
from tests.portal_client import callback_params, portal_client, start
from tests.worlds import JourneyWorld, OrgSAMLWorld, SAMLWorld


def store_bytes(db: Path) -> bytes:
    """The database as a copy of its files would show it (the write-ahead log included)."""
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_suomifi_answer_posted_by_another_browser_logs_nobody_in(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, attacker: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    client = portal_client(saml_world.broker)
    sso = await hinted_idp_url(attacker, client, "suomifi")
    acs, form = await suomifi_answer(browser, sso)  # the victim logs in at the real IdP
    held = await cross_site_post(acs, form)
    assert held.status_code == 303, held.text
    stored = store_bytes(saml_world.broker.settings.store.sqlite_path)
    assert form["SAMLResponse"][:64].encode() not in stored  # the answer itself is not kept
    assert TESSA.encode() not in stored  # what is held has the identity code sealed

    await attacker_gets_nothing(attacker, saml_world.broker.url, held)
    await victim_refused(browser, saml_world.broker.url, held)
    again = await attacker.get(saml_world.broker.url + held.headers["location"])
    assert again.status_code == 400  # the attacker's cookie with the handle: spent by now
    silent = await attacker.get((await start(client, prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"
    replayed = await cross_site_post(acs, form)  # the same answer again: RelayState spent
    assert replayed.status_code == 400

    own = await start(client)  # the victim's own login, answered from the IdP's session
    acs, form = posted(await browser.get(await to_suomifi(browser, saml_world, own.url)))
    back = await back_at_broker(browser, saml_world, acs, form)
    assert "code" in callback_params(back.headers["location"])


async def test_silent_answer_from_the_victims_idp_session_logs_nobody_in(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, attacker: httpx.AsyncClient
) -> None:
    """`prompt=none`: an IdP that still has the victim's session answers without a page."""
    await saml_world.broker.add_client()
    client = portal_client(saml_world.broker)
    await log_in_with_suomifi(saml_world, browser, client)  # the victim's session at the IdP

    sso = await hinted_idp_url(attacker, client, "suomifi", prompt="none")
    acs, form = posted(await browser.get(sso))  # no page: the IdP answers at once
    held = await cross_site_post(acs, form)
    assert held.status_code == 303, held.text
    await attacker_gets_nothing(attacker, saml_world.broker.url, held)
    page = await continued(browser, saml_world.broker.url, held)
    assert page.status_code == 400 and ELSEWHERE in page.text


async def test_organisation_saml_answer_posted_by_another_browser_logs_nobody_in(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient, attacker: httpx.AsyncClient
) -> None:
    await org_saml_world.broker.add_client()
    client = portal_client(org_saml_world.broker)
    sso = await hinted_idp_url(attacker, client, "oys")
    acs, saml_response, relay_state = posted_response(
        await at_the_idp(browser, sso, first_user("oys"))
    )
    held = await cross_site_post(acs, {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert held.status_code == 303, held.text
    await attacker_gets_nothing(attacker, org_saml_world.broker.url, held)

    await victim_refused(browser, org_saml_world.broker.url, held)


async def test_oidc_callback_for_another_browsers_login_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient, attacker: httpx.AsyncClient
) -> None:
    """The OIDC upstream callback is a top-level GET, which carries the transaction cookie: the
    IdP's `state` must be the one saved in that browser's login. The victim's browser lacks
    the attacker's login; the attacker never sees the code, which went to the victim's browser."""
    await world.broker.add_client()
    client = portal_client(world.broker)
    to_idp = await walk_to_idp(attacker, world.broker, (await start(client)).url)
    refused = await upstream_login(browser, to_idp, HUS_USER, register=False)
    assert refused.status_code == 400, refused.text  # the victim's browser: no such login
    assert "location" not in refused.headers
    assert not any(name.startswith("sote_session") for name in browser.cookies)
    waiting = await attacker.get(world.broker.url + "/upstream/oidc/callback/hus?code=x&state=y")
    assert waiting.status_code in (400, 502) and "location" not in waiting.headers
