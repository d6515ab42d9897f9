"""The portal's name and its privacy notice on the broker's choice pages, in a real Chromium."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.async_api import expect

from broker.assembly import make_store
from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import FINNISH, Journey, at
from tests.worlds import JourneyWorld

PRIVACY_URI = "http://127.0.0.1:9/tietosuojaseloste"

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_choice_page_names_the_portal_and_links_its_privacy_notice(
    world: JourneyWorld, portal: Portal, new_page: NewPage
) -> None:
    store = make_store(world.broker.settings)
    await store.open()
    try:
        registered = await store.clients.get("demo-portal")
        assert registered is not None
        await store.clients.put(dataclasses.replace(registered, policy_uri=PRIVACY_URI))
    finally:
        await store.close()
    journey = Journey(await new_page(), portal, FINNISH)
    await journey.open_portal()
    await journey.start_login()
    page = journey.page
    await expect(page).to_have_url(at(portal.broker_url, "/login/role"))
    main = page.get_by_role("main")
    await expect(main).to_contain_text("Olet kirjautumassa palveluun Demo portal.")
    link = main.get_by_role("link", name="Palvelun Demo portal tietosuojaseloste")
    await expect(link).to_have_attribute("href", PRIVACY_URI)
