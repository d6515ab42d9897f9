"""Disruption notices as a person meets them in Chromium: a severe notice is an alert and an
informative one a status, each with a heading in the page's language; an organisation taken
offline has no button but says why; axe finds nothing wrong with the page."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import expect

from broker.assembly import make_store
from broker.store.notices import NoticeRecord
from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import FINNISH, STEPS, Journey, at
from tests.browser.pages import described
from tests.worlds import JourneyWorld

pytestmark = pytest.mark.asyncio(loop_scope="session")

OFFLINE = {"fi": "HUS:n kirjautuminen on huoltokatkolla.", "sv": "HUS service.", "en": "HUS down."}
INFO = {"fi": "Palvelu päivitetään tänä iltana.", "sv": "Uppdatering.", "en": "Update tonight."}


async def put_notices(
    world: JourneyWorld, offline: str = "hus", texts: dict[str, str] = OFFLINE
) -> None:
    """A service notice, and the organisation `offline` offline with a severe notice."""
    now = world.broker.clock.now()
    store = make_store(world.broker.settings)
    await store.open()
    try:
        await store.notices.put(
            NoticeRecord("n-org", "organisation", offline, "severe", texts, now, offline=True)
        )
        await store.notices.put(NoticeRecord("n-all", "service", "", "info", INFO, now))
    finally:
        await store.close()


async def test_notices_are_announced_regions_with_headings(
    world: JourneyWorld, portal: Portal, new_page: NewPage
) -> None:
    await put_notices(world)
    journey = Journey(await new_page(), portal, FINNISH)
    await journey.open_portal()
    await journey.start_login()
    for number, step in enumerate(STEPS[:-1], start=1):
        await journey.broker_step(step, number)
    page = journey.page
    await expect(page).to_have_url(at(portal.broker_url, "/login/organisation"))
    alert = page.get_by_role("alert")
    await expect(alert.get_by_role("heading", name="Häiriötiedote")).to_be_visible()
    await expect(alert).to_contain_text(OFFLINE["fi"])
    status = page.get_by_role("status")
    await expect(status.get_by_role("heading", name="Tiedote")).to_be_visible()
    await expect(status).to_contain_text(INFO["fi"])
    hus = FINNISH.choices["organisation"]
    await expect(page.get_by_role("button", name=hus)).to_have_count(0)
    await expect(page.get_by_text("Ei käytettävissä juuri nyt.").first).to_be_visible()
    violations = (await Axe().run(page)).response["violations"]
    assert not violations, described(violations)
