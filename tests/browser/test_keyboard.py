"""Each login route walked with the keyboard alone (Tab, Shift+Tab, Enter, Space and typing; no
mouse, no `click`, no `fill`) in Chromium with JavaScript on: organisation identification over
OIDC (HUS) and over SAML (OYS), and personal identification (Suomi.fi) with the one-time
registration. At every Tab stop on the broker's pages the focused element must draw its focus
indicator; the walk ends at the portal, the login complete.

On the way the organisation list is filtered as the person types (and the count announced in
its live region), and the partner-organisation search fetches its results as the person types.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import HUS_USER, at
from tests.browser.pages import focus_problem, tab_to
from tests.mail import last_code

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Keyboard:
    """A person at `page` who reaches everything by Tab and acts by Enter or Space."""

    def __init__(self, page: Page, portal: Portal) -> None:
        self.page = page
        self.portal = portal

    def on_broker(self) -> bool:
        return self.page.url.startswith(self.portal.broker_url)

    async def reach(self, target: Locator, *, backwards: bool = False) -> None:
        await expect(target).to_be_visible()
        await self.page.wait_for_load_state()  # of the page that shows it: its stylesheet too
        await tab_to(self.page, target, backwards=backwards, check_focus=self.on_broker())

    async def press(self, target: Locator, key: str = "Enter") -> None:
        await self.reach(target)
        if self.on_broker():
            assert not await focus_problem(self.page)
        await self.page.keyboard.press(key)

    async def type_into(self, target: Locator, text: str, **reach: bool) -> None:
        await self.reach(target, **reach)
        await self.page.keyboard.type(text)

    async def choose(self, value: str) -> None:
        await self.press(self.page.locator(f'button[name="choice"][value="{value}"]'))

    async def start(self) -> None:
        await self.page.goto(self.portal.url + "/")
        await self.press(self.page.locator('a[href="/login"]').first)
        await expect(self.page).to_have_url(at(self.portal.broker_url, "/login/role"))
        await self.choose("professional")

    async def organisation(self, group: str, query: str, org: str) -> None:
        """The organisation route: group, then the organisation found by typing in the search."""
        page = self.page
        await self.choose("organisation")
        await self.choose(group)
        await expect(page).to_have_url(at(self.portal.broker_url, "/login/organisation"))
        await self.type_into(page.get_by_role("searchbox"), query)
        others = page.locator("#choices li[data-search]:not([hidden])")
        await expect(others).to_have_count(1)  # filtered in the page, not by a new request
        await expect(page).to_have_url(at(self.portal.broker_url, "/login/organisation"))
        await expect(page.locator("#org-count")).to_have_text(re.compile(r": 1$"))
        await self.choose(org)

    async def idp_password_login(self, user: tuple[str, str]) -> None:
        page = self.page
        await self.type_into(page.locator("#username"), user[0])
        await self.type_into(page.locator("#password"), user[1])
        await page.keyboard.press("Enter")

    async def at_portal(self) -> None:
        await expect(self.page).to_have_url(at(self.portal.url, "/profile"))


async def test_organisation_oidc_login_by_keyboard(portal: Portal, new_page: NewPage) -> None:
    person = Keyboard(await new_page(), portal)
    await person.start()
    await person.organisation("yliopistosairaanhoitopiirit", "hus", "hus")
    await person.idp_password_login(HUS_USER)
    await person.at_portal()


async def test_organisation_saml_login_by_keyboard(
    org_saml_portal: Portal, new_page: NewPage
) -> None:
    person = Keyboard(await new_page(), org_saml_portal)
    await person.start()
    await person.organisation("yliopistosairaanhoitopiirit", "oulu", "oys")
    await person.idp_password_login(("sanna.makela", "testi1234"))
    await person.at_portal()


async def test_personal_login_with_registration_by_keyboard(
    suomifi_portal: Portal, new_page: NewPage
) -> None:
    page = await new_page()
    person = Keyboard(page, suomifi_portal)
    await person.start()
    await person.choose("personal")
    await expect(page).to_have_url(re.compile(re.escape(suomifi_portal.idp_url) + "/"))
    # The mock Suomi.fi: Space picks the first method and the first person (Tessa).
    await person.press(page.locator('input[name="method"]').first, " ")
    await person.press(page.locator('input[name="hetu"]').first, " ")
    await person.press(page.locator("form button[type=submit]").first)

    await expect(page).to_have_url(at(suomifi_portal.broker_url, "/account/register"))
    await person.type_into(page.locator("#email"), "tessa.keyboard@example.fi")
    await person.type_into(page.locator("#phone"), "040 123 4567", backwards=True)
    await person.type_into(page.get_by_role("searchbox"), "birkaland")  # its Swedish name
    area = page.locator('#partner-results button[value="add:area:pirkanmaa"]')
    await expect(page.locator("#partner-count")).to_have_text(re.compile(r"^Hakutuloksia: \d+$"))
    await expect(page.locator("#partner-results .offered li")).to_have_count(1)
    await person.press(area)  # adds it: the form goes to the broker and comes back
    await expect(page.locator("ul.chosen")).to_contain_text("Pirkanmaan hyvinvointialue")
    await person.press(page.locator("#eligible"), " ")
    await expect(page.locator("#eligible")).to_be_checked()
    await person.press(page.locator('button[value="continue"]'))

    await expect(page).to_have_url(at(suomifi_portal.broker_url, "/account/confirm"))
    await person.type_into(page.locator("#code"), last_code("tessa.keyboard@example.fi"))
    await person.press(page.locator('button[value="confirm"]'))
    await person.at_portal()
