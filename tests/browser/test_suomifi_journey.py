"""The personal route in a real Chromium: portal → broker → mock Suomi.fi (SAML) → a cross-site
auto-submitted POST to the broker's ACS, on which Chromium sends no SameSite=Lax cookie → the
same-site continue step, where it does → portal. The hop that loses logins in other SAML proxies."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage, Portal

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_suomifi_certificate_card_login_in_chromium(
    suomifi_portal: Portal, new_page: NewPage
) -> None:
    page = await new_page()
    await page.goto(suomifi_portal.url + "/")
    await page.get_by_role("link", name="Kirjaudu palveluun").first.click()
    await page.get_by_role("button", name="Olen ammattilainen").click()
    await page.get_by_role("button", name="Ammattilaiskäyttäjät ja yhteistyökumppanit").click()
    await expect(page).to_have_url(re.compile(re.escape(suomifi_portal.idp_url) + "/"))
    await page.locator('input[name="method"][value="varmennekortti"]').check()
    await page.locator('input[name="hetu"][value="010280-952L"]').check()
    await page.locator("form button[type=submit]").first.click()
    # the mock's page posts to the broker's ACS by itself; the broker sends the browser on
    await expect(page).to_have_url(suomifi_portal.url + "/profile")
    await page.get_by_label("Ammattiryhmä").select_option(index=1)
    await page.get_by_role("button", name="Tallenna").click()
    await expect(page).to_have_url(suomifi_portal.url + "/me")
    await expect(page.get_by_role("main")).to_contain_text("http://ftn.ficora.fi/2017/loa3")
    await expect(page.get_by_role("main")).not_to_contain_text("010280-952L")
