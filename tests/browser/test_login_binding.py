"""The login-binding attack in two Chromium contexts: an attacker starts a portal login, stops
at the redirect to the IdP and sends that genuine, broker-signed URL to a victim, who logs in.
The IdP's page auto-posts the answer from the victim's browser to the broker's ACS. Neither
browser is logged in as the victim: the victim's browser did not begin the login, the
attacker's did not receive the answer. The victim's own login then still works."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import Portal
from tests.browser.test_suomifi_journey import choose_card, register_if_new

pytestmark = pytest.mark.asyncio(loop_scope="session")

ELSEWHERE = "Kirjautumista ei aloitettu tässä selaimessa"
NOT_LOGGED_IN = "Et ole kirjautunut sisään."


async def stopped_at_idp(page: Page, portal: Portal, *choices: str) -> str:
    """The attacker's own login through the portal and the broker's pages, up to the IdP's page
    (where the attacker stops); returns its URL, the AuthnRequest."""
    await page.goto(portal.url + "/")
    await page.get_by_role("link", name="Kirjaudu palveluun").first.click()
    await page.get_by_role("button", name="Olen ammattilainen").click()
    for name in choices:
        await page.get_by_role("button", name=name).click()
    await expect(page).to_have_url(re.compile(re.escape(portal.idp_url) + "/.*SAMLRequest="))
    return page.url


async def nobody_logged_in(attacker: Page, victim: Page, portal: Portal) -> None:
    await expect(victim).to_have_url(re.compile(re.escape(portal.broker_url + "/upstream/saml/")))
    await expect(victim.get_by_role("main")).to_contain_text(ELSEWHERE)
    await attacker.goto(portal.broker_url + "/upstream/saml/continue")
    await expect(attacker.get_by_role("main")).to_contain_text(ELSEWHERE)
    for page in (attacker, victim):
        await page.goto(portal.url + "/me")
        await expect(page.get_by_role("status")).to_contain_text(NOT_LOGGED_IN)


async def two_contexts(chromium: Browser) -> tuple[BrowserContext, BrowserContext]:
    return (
        await chromium.new_context(locale="fi-FI"),
        await chromium.new_context(locale="fi-FI"),
    )


async def test_suomifi_login_url_sent_to_a_victim_logs_nobody_in(
    suomifi_portal: Portal, chromium: Browser
) -> None:
    attacker_context, victim_context = await two_contexts(chromium)
    try:
        attacker = await attacker_context.new_page()
        sso = await stopped_at_idp(
            attacker, suomifi_portal, "Ammattilaiskäyttäjät ja yhteistyökumppanit"
        )
        victim = await victim_context.new_page()
        await victim.goto(sso)  # the link the victim was sent: the real IdP's page
        await victim.locator('input[name="method"][value="varmennekortti"]').check()
        await victim.locator('input[name="hetu"][value="010280-952L"]').check()
        await victim.locator("form button[type=submit]").first.click()
        await nobody_logged_in(attacker, victim, suomifi_portal)

        await victim.goto(suomifi_portal.url + "/")  # the victim's own login goes through
        await victim.get_by_role("link", name="Kirjaudu palveluun").first.click()
        await victim.get_by_role("button", name="Olen ammattilainen").click()
        await victim.get_by_role(
            "button", name="Ammattilaiskäyttäjät ja yhteistyökumppanit"
        ).click()  # the mock answers from the victim's session there: no picker
        await register_if_new(victim, suomifi_portal)
        await expect(victim).to_have_url(suomifi_portal.url + "/profile")
    finally:
        await attacker_context.close()
        await victim_context.close()


async def test_silent_suomifi_login_url_sent_to_a_victim_logs_nobody_in(
    suomifi_portal: Portal, chromium: Browser
) -> None:
    """`prompt=none`: the victim, still logged in at the IdP, only has to open the link."""
    attacker_context, victim_context = await two_contexts(chromium)
    try:
        victim = await victim_context.new_page()
        await victim.goto(suomifi_portal.url + "/")
        await choose_card(victim, suomifi_portal)  # earlier: the victim's session at the IdP
        await register_if_new(victim, suomifi_portal)
        # a new day: the portal's and the broker's cookies gone, the IdP's session still there
        await victim_context.clear_cookies(name=re.compile("^(?!suomifi_mock_session$)"))

        attacker = await attacker_context.new_page()
        sso = await silent_idp_url(attacker_context, suomifi_portal)
        assert "SAMLRequest=" in sso

        await victim.goto(sso)  # no page at the IdP: it answers at once
        await nobody_logged_in(attacker, victim, suomifi_portal)
    finally:
        await attacker_context.close()
        await victim_context.close()


async def silent_idp_url(context: BrowserContext, portal: Portal) -> str:
    """The portal's own authorization request, made silent and hinted at Suomi.fi (what an
    attacker's client may send as it likes), followed in the attacker's cookie jar up to the
    redirect to the IdP: the IdP would answer the attacker's browser NoPassive at once."""
    to_broker = await context.request.get(portal.url + "/login", max_redirects=0)
    authorize = to_broker.headers["location"] + "&prompt=none&idp_hint=suomifi"
    to_idp = await context.request.get(authorize, max_redirects=0)
    assert to_idp.status == 303, await to_idp.text()
    return to_idp.headers["location"]


async def test_organisation_saml_login_url_sent_to_a_victim_logs_nobody_in(
    org_saml_portal: Portal, chromium: Browser
) -> None:
    attacker_context, victim_context = await two_contexts(chromium)
    try:
        attacker = await attacker_context.new_page()
        sso = await stopped_at_idp(
            attacker,
            org_saml_portal,
            "Organisaatiotunnistautuminen",
            "Yliopistosairaanhoitopiirit",
            "OYS – Oulun",  # noqa: RUF001
        )
        victim = await victim_context.new_page()
        await victim.goto(sso)
        await victim.get_by_label("Käyttäjätunnus", exact=True).fill("sanna.makela")
        await victim.get_by_label("Salasana", exact=True).fill("testi1234")
        await victim.get_by_role("button", name="Kirjaudu", exact=True).click()
        await nobody_logged_in(attacker, victim, org_saml_portal)
    finally:
        await attacker_context.close()
        await victim_context.close()
