"""The personal route in a real Chromium: portal → broker → mock Suomi.fi (SAML) → a cross-site
auto-submitted POST to the broker's ACS, on which Chromium sends no SameSite=Lax cookie → the
same-site continue step, where it does → portal. The hop that loses logins in other SAML proxies."""

from __future__ import annotations

import asyncio
import html
import re
from urllib.parse import parse_qs

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import FINNISH, Journey

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_suomifi_certificate_card_login_in_chromium(
    suomifi_portal: Portal, new_page: NewPage
) -> None:
    page = await new_page()
    await page.goto(suomifi_portal.url + "/")
    await log_in_with_card(page, suomifi_portal)
    await expect(page.get_by_role("main")).to_contain_text("http://ftn.ficora.fi/2017/loa3")
    await expect(page.get_by_role("main")).not_to_contain_text("010280-952L")


async def log_in_with_card(page: Page, portal: Portal) -> None:
    """From the portal's front page to its /me page, with a certificate card at the mock."""
    await choose_card(page, portal)
    # the mock's page posts to the broker's ACS by itself; the broker sends the browser on,
    # the first time to registration (Suomi.fi gives no e-mail address or organisation)
    await register_if_new(page, portal)
    await expect(page).to_have_url(portal.url + "/profile")
    await page.get_by_label("Ammattiryhmä").select_option(index=1)
    await page.get_by_role("button", name="Tallenna").click()
    await expect(page).to_have_url(portal.url + "/me")


async def test_logout_at_the_portal_logs_out_at_suomifi_in_chromium(
    suomifi_portal: Portal, new_page: NewPage
) -> None:
    """Kirjaudu ulos: portal → broker /end_session → the mock's /slo → the broker's
    /upstream/saml/slo → the portal's front page; the next login asks at the mock again."""
    page = await new_page()
    await page.goto(suomifi_portal.url + "/")
    await log_in_with_card(page, suomifi_portal)
    slo_hops: list[str] = []
    page.on("request", lambda r: slo_hops.append(r.url.split("?")[0]) if "slo" in r.url else None)
    await page.get_by_role("button", name="Kirjaudu ulos").click()
    await expect(page).to_have_url(re.compile(re.escape(suomifi_portal.url) + r"/\?state="))
    await expect(page.get_by_role("status")).to_contain_text("Olet kirjautunut ulos.")
    assert slo_hops == [
        suomifi_portal.idp_url + "/slo",
        suomifi_portal.broker_url + "/upstream/saml/slo",
    ]
    await page.get_by_role("link", name="Kirjaudu palveluun").first.click()
    await page.get_by_role("button", name="Olen ammattilainen").click()
    await page.get_by_role("button", name="Ammattilaiskäyttäjät ja yhteistyökumppanit").click()
    await expect(page.locator('input[name="method"][value="varmennekortti"]')).to_be_visible()


async def test_a_response_posted_into_another_browser_logs_nobody_in_there(
    suomifi_portal: Portal, chromium: Browser
) -> None:
    """Tessa's Response, caught before her browser posted it, is posted by another person's
    browser (an attacker's page auto-submits it cross-site): the broker checks it and holds it
    in Tessa's login, but hands the continue step's handle to the browser that posted it, whose
    own login that is not: an error page, no session anywhere. The answer is spent; Tessa's
    browser logs in again (her session at the IdP answers at once)."""
    acs = suomifi_portal.broker_url + "/upstream/saml/acs"
    tessa_context = await chromium.new_context(locale="fi-FI")
    other_context = await chromium.new_context(locale="fi-FI")
    try:
        tessa, caught = await tessa_context.new_page(), asyncio.get_running_loop().create_future()

        async def catch(route: Route) -> None:
            caught.set_result(parse_qs(route.request.post_data or ""))
            await route.abort()

        await tessa_context.route(acs, catch)
        await tessa.goto(suomifi_portal.url + "/")
        await choose_card(tessa, suomifi_portal)
        fields = {name: values[0] for name, values in (await caught).items()}
        assert set(fields) == {"SAMLResponse", "RelayState"}

        other = await other_context.new_page()
        await other.goto(suomifi_portal.url + "/")
        await other.get_by_role("link", name="Kirjaudu palveluun").first.click()
        await other.get_by_role("button", name="Olen ammattilainen").click()
        inputs = "".join(
            f'<input type="hidden" name="{n}" value="{html.escape(v)}">' for n, v in fields.items()
        )
        await other.goto("about:blank")  # the attacker's page, on no site of ours
        await other.set_content(
            f'<form method="post" action="{acs}">{inputs}</form>'
            "<script>document.forms[0].submit()</script>"
        )
        await expect(other).to_have_url(re.compile(re.escape(suomifi_portal.broker_url)))
        await expect(other.get_by_role("main")).to_contain_text("Virhetunnus")
        await expect(other.get_by_role("main")).to_contain_text(
            "Kirjautumista ei aloitettu tässä selaimessa"
        )
        await other.goto(suomifi_portal.url + "/me")
        await expect(other.get_by_role("status")).to_contain_text("Et ole kirjautunut sisään.")

        await tessa_context.unroute(acs)
        await tessa.goto(suomifi_portal.broker_url + "/upstream/saml/continue")
        await expect(tessa.get_by_role("main")).to_contain_text("Virhetunnus")
        await tessa.goto(suomifi_portal.url + "/")
        await tessa.get_by_role("link", name="Kirjaudu palveluun").first.click()
        await tessa.get_by_role("button", name="Olen ammattilainen").click()
        await tessa.get_by_role("button", name="Ammattilaiskäyttäjät ja yhteistyökumppanit").click()
        await register_if_new(tessa, suomifi_portal)
        await expect(tessa).to_have_url(suomifi_portal.url + "/profile")
    finally:
        await tessa_context.close()
        await other_context.close()


async def register_if_new(page: Page, portal: Portal) -> None:
    """Wherever the broker sends the browser first: the first time, registration."""
    register = re.escape(portal.broker_url + "/account/register")
    await page.wait_for_url(re.compile(f"{register}|{re.escape(portal.url)}/profile"))
    if "/account/register" in page.url:
        await Journey(page, portal, FINNISH).register(email="tessa.testi@example.fi")


async def choose_card(page: Page, portal: Portal) -> None:
    """From the portal's front page to the mock Suomi.fi's answer, with a certificate card."""
    await page.get_by_role("link", name="Kirjaudu palveluun").first.click()
    await page.get_by_role("button", name="Olen ammattilainen").click()
    await page.get_by_role("button", name="Ammattilaiskäyttäjät ja yhteistyökumppanit").click()
    await expect(page).to_have_url(re.compile(re.escape(portal.idp_url) + "/"))
    await page.locator('input[name="method"][value="varmennekortti"]').check()
    await page.locator('input[name="hetu"][value="010280-952L"]').check()
    await page.locator("form button[type=submit]").first.click()


async def test_register_entry_suggests_the_home_municipality_in_chromium(
    suomifi_portal: Portal, new_page: NewPage
) -> None:
    """ "Rekisteröi ammattilaistili" on the route page: Suomi.fi, then the form, where the home
    municipality Suomi.fi sent is offered (not chosen) and the confirmation must be ticked."""
    page = await new_page()
    await page.goto(suomifi_portal.url + "/")
    await page.get_by_role("link", name="Kirjaudu palveluun").first.click()
    await page.get_by_role("button", name="Olen ammattilainen").click()
    await page.get_by_role("button", name="Rekisteröi ammattilaistili").click()
    await expect(page).to_have_url(re.compile(re.escape(suomifi_portal.idp_url) + "/"))
    await page.locator('input[name="method"][value="varmennekortti"]').check()
    await page.locator('input[name="hetu"][value="010280-952L"]').check()
    await page.locator("form button[type=submit]").first.click()
    await page.wait_for_url(suomifi_portal.broker_url + "/account/register")
    main = page.get_by_role("main")
    await expect(main).to_contain_text("valitse kotikuntasi: Helsinki")
    chosen = page.get_by_role("list", name="Valitut organisaatiot")
    await expect(chosen).to_have_count(0)
    await page.get_by_role("button", name="Lisää Helsinki").click()
    await expect(page.get_by_role("list", name="Valitut organisaatiot")).to_contain_text("Helsinki")
    await expect(main).not_to_contain_text("valitse kotikuntasi: Helsinki")
    await Journey(page, suomifi_portal, FINNISH).register(email="tessa.testi@example.fi")
    await expect(page).to_have_url(suomifi_portal.url + "/profile")
