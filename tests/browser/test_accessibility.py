"""axe-core on every page a person meets at the broker, in Finnish, Swedish and English, each at a
phone width (390x844) and a desktop width (1280x800), in the real Chromium: the choice pages
with disruption notices showing, the organisation page searched (a match and no match),
registration (as sent and with errors), the e-mail code, the account page and its deletion,
the logout confirmation and the logged-out page, and the error pages (unknown portal, login not
started in this browser, expired login, not found). Each page is visited once per language; the
viewport is resized between the two runs. Screenshots of each land in `test-artifacts/
screenshots/` (`tests/browser/pages.py`).

Only the broker's pages are held to this; the mock IdP's login page fails `landmark-one-main`
and `region` (it has no <main>), which is acceptable for a mock that never reaches production.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage, PageProblems, Portal
from tests.browser.journey import at
from tests.browser.pages import AxeTour
from tests.browser.test_notices import put_notices
from tests.mail import last_code
from tests.worlds import JourneyWorld

pytestmark = pytest.mark.asyncio(loop_scope="session")
log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
TRANSACTION_TTL = 1800  # settings: journey.transaction_ttl's default
PSHVA_OFFLINE = {
    "fi": "PSHVA:n kirjautuminen on huoltokatkolla.",
    "sv": "PSHVA:s inloggning har ett serviceavbrott.",
    "en": "PSHVA's login is down for maintenance.",
}
ERROR_PAGES = {
    "error-not-found": "/no-such-page",
    "error-unknown-portal": "/authorize?client_id=no-such-portal&response_type=code"
    "&scope=openid&redirect_uri=https%3A%2F%2Fportal.invalid%2Fcallback",
    "error-login-elsewhere": "/upstream/saml/continue?h=no-such-answer",
}


@pytest.fixture
def required_registration() -> tuple[str, ...]:
    """HUS shows the registration form here (`registration: required`): this module tests it."""
    return ("hus",)


async def go(page: Page, url: str) -> None:
    """The page has loaded first, its stylesheet too (leaving at once would cancel it, which the
    page-problem watch counts as a failure)."""
    await page.wait_for_load_state()
    await page.goto(url)


async def choose(page: Page, step: str, value: str) -> None:
    await page.wait_for_load_state()
    await page.locator(f'button[name="choice"][value="{value}"]').click()
    await expect(page).not_to_have_url(at(page.url.split("/login/")[0], "/login/" + step))


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_every_page_has_no_axe_violations(
    lang: str,
    world: JourneyWorld,
    portal: Portal,
    new_page: NewPage,
    page_problems: PageProblems,
) -> None:
    base = portal.broker_url
    for refused in ("/account/register", "/login/role", *ERROR_PAGES.values()):
        for status in (400, 403, 404):
            page_problems.expect(f"{status}: GET {base}{refused}")
    page_problems.expect_refused_form(base + "/account/register")
    page_problems.expect("console: Failed to load resource: the server responded with a status")
    await put_notices(world, "pshva", PSHVA_OFFLINE)  # a service notice, PSHVA offline (severe)
    tour = AxeTour(lang)
    page = await new_page(viewport={"width": 390, "height": 844})

    await go(page, portal.url + "/")
    if lang != "fi":
        await page.wait_for_load_state()
        await page.get_by_role("link", name=LANGUAGE_NAMES[lang], exact=True).click()
    await page.wait_for_load_state()
    await page.locator('a[href="/login"]').first.click()
    await expect(page).to_have_url(at(base, "/login/role"))
    await go(page, f"{base}/lang?to={lang}&next=/login/role")  # the broker's own switch
    for step, value in (("role", "professional"), ("route", "organisation")):
        await tour.check(page, step)
        await choose(page, step, value)
    await tour.check(page, "group")
    await choose(page, "group", "yliopistosairaanhoitopiirit")
    await tour.check(page, "organisation")
    await go(page, base + "/login/organisation?q=pirha")
    await expect(page.locator("#org-count")).not_to_be_empty()
    await tour.check(page, "organisation-search")
    await go(page, base + "/login/organisation?q=xyzzy")
    await tour.check(page, "organisation-no-match")
    await go(page, base + "/login/organisation")
    await choose(page, "organisation", "hus")

    await page.locator("#username").fill("maija.meikalainen")
    await page.locator("#password").fill("testi1234")
    await page.locator("form button[type=submit]").first.click()
    await expect(page).to_have_url(at(base, "/account/register"))
    await tour.check(page, "register")
    email = await page.locator("#email").input_value()
    await page.locator("#phone").fill("12")
    await page.locator('button[value="continue"]').click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await tour.check(page, "register-errors")
    await page.locator("#phone").fill("040 123 4567")
    await page.locator("#eligible").check()
    await page.locator('button[value="continue"]').click()
    await expect(page).to_have_url(at(base, "/account/confirm"))
    await tour.check(page, "confirm")
    await page.locator("#code").fill(last_code(email))
    await page.locator('button[value="confirm"]').click()
    await expect(page).to_have_url(at(portal.url, "/profile"))  # the login is complete

    await go(page, base + "/account")
    await tour.check(page, "account")
    await go(page, base + "/account/delete")
    await tour.check(page, "account-delete")
    await go(page, base + "/end_session")
    await tour.check(page, "logout-confirm")
    await page.locator("main form button[type=submit]").click()
    await expect(page.locator("main h1")).not_to_have_text("")
    await tour.check(page, "logged-out")

    await go(page, portal.url + "/login")  # a new login, left until it expires
    await expect(page).to_have_url(at(base, "/login/role"))
    world.broker.clock.advance(TRANSACTION_TTL + 1)
    await go(page, base + "/login/role")
    await expect(page.locator(".error-id")).to_be_visible()
    await tour.check(page, "error-expired")

    stranger = await new_page(viewport={"width": 390, "height": 844})  # no cookies of ours
    for name, path in ERROR_PAGES.items():
        await go(stranger, f"{base}/lang?to={lang}&next={quote(path)}")
        await expect(stranger.locator(".error-id")).to_be_visible()
        assert await stranger.locator("html").get_attribute("lang") == lang
        await tour.check(stranger, name)

    log.info("axe, page x language x width → violations:\n%s", tour.table())
    assert not tour.failures(), tour.failures()
