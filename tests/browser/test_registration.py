"""One-time registration in a real Chromium, in Finnish: the form pre-filled from the IdP, a
municipality found by searching without its accents, a wrong phone number and a wrong code each
told beside their field with everything typed kept, then the portal; the next login goes
straight through."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage, PageProblems, Portal
from tests.browser.journey import FINNISH, Journey, at
from tests.mail import mail_sink

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def required_registration() -> tuple[str, ...]:
    """HUS shows the registration form here (`registration: required`): this module tests it."""
    return ("hus",)


async def test_first_login_registers_in_finnish(
    portal: Portal, new_page: NewPage, page_problems: PageProblems
) -> None:
    for refused in ("/account/register", "/account/confirm"):  # a form to correct is a 400
        page_problems.expect_refused_form(portal.broker_url + refused)
    page = await new_page()
    journey = Journey(page, portal, FINNISH)
    await journey.open_portal()
    await journey.start_login()
    await journey.through_broker()
    await journey.idp_login()

    await expect(page).to_have_url(at(portal.broker_url, "/account/register"))
    main = page.get_by_role("main")
    email = await page.get_by_label("Sähköpostiosoite", exact=True).input_value()
    assert email.endswith("hus.fi")  # what the IdP said
    chosen = page.get_by_role("list", name="Valitut organisaatiot")
    await expect(chosen).to_contain_text("HUS-yhtymä")  # the organisation logged in through

    await page.get_by_label("Puhelinnumero", exact=True).fill("12345")
    await page.get_by_label("Hae organisaatiota, oppilaitosta tai kuntaa nimellä").fill(
        "hameenlinna"
    )
    await page.get_by_role("button", name="Hae", exact=True).click()
    await page.get_by_role("button", name="Hämeenlinna Kunta 109").click()
    await page.get_by_role("button", name="Poista HUS-yhtymä").click()
    await expect(chosen).to_contain_text("Hämeenlinna")
    await expect(chosen).not_to_contain_text("HUS-yhtymä")
    await expect(page.get_by_label("Puhelinnumero", exact=True)).to_have_value("12345")

    await page.get_by_role("button", name="Jatka", exact=True).click()
    phone = page.get_by_label("Puhelinnumero", exact=True)
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(main).to_contain_text("Puhelinnumero ei ole kelvollinen")
    await expect(page.get_by_role("alert")).to_contain_text("Korjaa seuraavat kohdat")
    await expect(phone).to_have_value("12345")
    await expect(page.get_by_label("Sähköpostiosoite", exact=True)).to_have_value(email)
    await expect(chosen).to_contain_text("Hämeenlinna")

    eligible = page.get_by_label(re.compile("^Vahvistan olevani"))
    await expect(eligible).to_have_attribute("aria-invalid", "true")  # not confirmed either
    await expect(main).to_contain_text("Vahvista, että olet sosiaali- tai terveydenhuollon")
    await phone.fill("040 123 4567")
    await eligible.check()
    await page.get_by_role("button", name="Jatka", exact=True).click()
    await expect(page).to_have_url(at(portal.broker_url, "/account/confirm"))
    await expect(main).to_contain_text(email)
    await page.get_by_label("Vahvistuskoodi", exact=True).fill("000000")
    await page.get_by_role("button", name="Vahvista ja rekisteröidy").click()
    await expect(main).to_contain_text("Koodi ei ole oikein")
    await journey.confirm_code(email)
    assert mail_sink().messages(to=email)[-1].subject == "Vahvistuskoodi"  # no code in it

    await journey.fill_profile(hyvinvointialue=None)
    await journey.logged_in()

    # in another browser, the next login goes from the IdP straight back to the portal
    again = Journey(await new_page(), portal, FINNISH)
    await again.open_portal()
    await again.start_login()
    await again.through_broker()
    await again.idp_login()
    await expect(again.page).to_have_url(re.compile(re.escape(portal.url) + "/(me|profile)"))
