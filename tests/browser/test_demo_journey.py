"""The demo journey in a real Chromium: portal → broker's choice pages → mock HUS IdP →
portal, in Finnish and in Swedish, and once with JavaScript off and the keyboard only."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import FINNISH, HUS_USER_NAME, SWEDISH, Journey

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_finnish_journey_from_portal_to_portal(
    portal: Portal, new_page: NewPage, tmp_path: Path
) -> None:
    """Screenshots of every broker page land in this test's tmp_path."""
    journey = Journey(await new_page(), portal, FINNISH, screenshots=tmp_path)
    await journey.open_portal()
    await journey.start_login()
    await journey.through_broker()
    await journey.idp_login()  # organisation identification: no registration form
    await journey.fill_profile(hyvinvointialue="Pirkanmaan hyvinvointialue")
    await journey.logged_in()
    await expect(journey.page.get_by_role("main")).to_contain_text("Pirkanmaan hyvinvointialue")


async def test_swedish_journey_follows_the_portals_language(
    portal: Portal, new_page: NewPage
) -> None:
    """The portal's language switch → `ui_locales=sv` → broker and IdP in Swedish (the browser
    itself asks for English). The optional wellbeing area is left unchosen."""
    journey = Journey(await new_page(), portal, SWEDISH)
    await journey.open_portal()
    await journey.start_login()
    await journey.through_broker()
    await journey.idp_login()  # organisation identification: no registration form
    await journey.fill_profile(hyvinvointialue=None)
    await journey.logged_in()
    await expect(journey.page.get_by_role("main")).to_contain_text("Inte valt")


async def test_without_javascript_by_keyboard_alone(portal: Portal, new_page: NewPage) -> None:
    """Every step is a plain form or link: with scripts off, Enter on the focused button or
    link carries the person all the way, and Tab first reaches the skip link."""
    page = await new_page(java_script_enabled=False)
    journey = Journey(page, portal, FINNISH, keyboard=True)
    await journey.open_portal()
    await journey.start_login()
    await expect(page.get_by_role("heading", level=1)).to_have_text(FINNISH.headings["role"])
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Siirry sisältöön")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("main")).to_be_focused()
    await journey.through_broker()
    await journey.idp_login()  # organisation identification: no registration form
    await journey.fill_profile(hyvinvointialue=None)
    await journey.logged_in()
    await expect(page.get_by_role("main")).to_contain_text(HUS_USER_NAME)
