"""The demo journey as a person does it in a browser: portal → role → route → group →
organisation → organisation IdP login → portal profile → logged-in page.

Elements are found by their accessible role and name (what a screen reader announces), so a
page whose buttons, fields or headings lost their labels fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Portal
from tests.mail import last_code

HUS_USER = ("maija.meikalainen", "testi1234")
HUS_USER_NAME = "Maija Meikäläinen"
STEPS = ("role", "route", "group", "organisation")


@dataclass(frozen=True)
class Words:
    """What the pages say in one language: the names a person looks for."""

    lang: str
    portal_login: str
    headings: dict[str, str]  # broker step -> its h1
    # broker step -> the button chosen (a substring of its name; the organisations are named
    # with an en dash, as on the page)
    choices: dict[str, str]
    idp_username: str
    idp_password: str
    idp_submit: str
    profile_heading: str
    ammattiryhma: str
    ammattiryhma_choice: str
    hyvinvointialue: str
    save: str
    logged_in_as: str
    register_heading: str = "Rekisteröi ammattilaistili"
    phone: str = "Puhelinnumero"
    email: str = "Sähköpostiosoite"
    register_continue: str = "Jatka"
    eligible: str = "Vahvistan olevani"
    confirm_heading: str = "Vahvista sähköpostiosoitteesi"
    code: str = "Vahvistuskoodi"
    confirm: str = "Vahvista ja rekisteröidy"
    partner_area: str = "Pirkanmaan hyvinvointialue"


FINNISH = Words(
    lang="fi",
    portal_login="Kirjaudu palveluun",
    headings={
        "role": "Valitse asiointirooli",
        "route": "Valitse tunnistautumistapa",
        "group": "Valitse organisaatioryhmä",
        "organisation": "Valitse organisaatiosi",
    },
    choices={
        "role": "Olen ammattilainen",
        "route": "Organisaatiotunnistautuminen",
        "group": "Yliopistosairaanhoitopiirit",
        "organisation": "HUS – Helsingin ja Uudenmaan sairaanhoitopiiri",  # noqa: RUF001
    },
    idp_username="Käyttäjätunnus",
    idp_password="Salasana",
    idp_submit="Kirjaudu",
    profile_heading="Käyttäjäprofiili",
    ammattiryhma="Ammattiryhmä",
    ammattiryhma_choice="Psykologi",
    hyvinvointialue="Hyvinvointialue",
    save="Tallenna",
    logged_in_as="Olet kirjautunut sisään nimellä",
)

SWEDISH = Words(
    lang="sv",
    portal_login="Logga in i tjänsten",
    headings={
        "role": "Välj roll",
        "route": "Välj identifieringssätt",
        "group": "Välj organisationsgrupp",
        "organisation": "Välj din organisation",
    },
    choices={
        "role": "Jag är yrkesperson",
        "route": "Organisationsidentifiering",
        "group": "Universitetssjukvårdsdistrikt",
        "organisation": "HUS – Helsingfors och Nylands sjukvårdsdistrikt",  # noqa: RUF001
    },
    idp_username="Användarnamn",
    idp_password="Lösenord",
    idp_submit="Logga in",
    profile_heading="Användarprofil",
    ammattiryhma="Yrkesgrupp",
    ammattiryhma_choice="Psykolog",
    hyvinvointialue="Välfärdsområde",
    save="Spara",
    logged_in_as="Du är inloggad som",
    register_heading="Registrera ett konto som yrkesperson",
    phone="Telefonnummer",
    email="E-postadress",
    register_continue="Fortsätt",
    eligible="Jag bekräftar att jag är",
    confirm_heading="Bekräfta din e-postadress",
    code="Bekräftelsekod",
    confirm="Bekräfta och registrera",
    partner_area="Birkalands välfärdsområde",
)


def at(url: str, path: str) -> re.Pattern[str]:
    """`url + path`, with or without a query string or fragment."""
    return re.compile(re.escape(url + path) + r"(\?[^#]*)?(#.*)?$")


async def html_lang(page: Page) -> str | None:
    return await page.locator("html").get_attribute("lang")


@dataclass
class Journey:
    """One person's walk. `keyboard=True` activates every button and link with Enter on the
    focused element instead of a mouse click. With `screenshots`, each broker page is saved
    there as `NN-step.png` (full page)."""

    page: Page
    portal: Portal
    words: Words
    keyboard: bool = False
    screenshots: Path | None = None

    async def activate(self, target: Locator) -> None:
        """The page has loaded first, its stylesheet too: a robot that navigates on at once
        would cancel that request, which the page-problem watch counts as a failure."""
        await self.page.wait_for_load_state()
        if self.keyboard:
            await target.press("Enter")  # focuses the element, then presses the key
        else:
            await target.click()

    async def open_portal(self) -> None:
        page = self.page
        await page.goto(self.portal.url + "/")
        if self.words.lang != "fi":  # the portal is Finnish by default: its language switch
            switch = page.get_by_role("navigation", name="Kieli")
            await self.activate(switch.get_by_role("link", name="Svenska", exact=True))
            await expect(page.get_by_role("link", name=self.words.portal_login)).to_be_visible()
        assert await html_lang(page) == self.words.lang

    async def start_login(self) -> None:
        await self.activate(self.page.get_by_role("link", name=self.words.portal_login))

    async def broker_step(self, step: str, number: int) -> None:
        """Check that the broker shows `step` in the right language, then choose."""
        page = self.page
        await expect(page).to_have_url(at(self.portal.broker_url, "/login/" + step))
        heading = page.get_by_role("heading", level=1, name=self.words.headings[step])
        await expect(heading).to_be_visible()
        assert await html_lang(page) == self.words.lang, step
        if self.screenshots is not None:
            await page.screenshot(path=self.screenshots / f"{number:02}-{step}.png", full_page=True)
        await self.activate(page.get_by_role("button", name=self.words.choices[step]))

    async def through_broker(self) -> None:
        for number, step in enumerate(STEPS, start=1):
            await self.broker_step(step, number)
        await expect(self.page).to_have_url(re.compile(re.escape(self.portal.idp_url + "/hus/")))

    async def idp_login(self, user: tuple[str, str] = HUS_USER) -> None:
        page = self.page
        assert await html_lang(page) == self.words.lang  # the broker passed ui_locales on
        await page.get_by_label(self.words.idp_username, exact=True).fill(user[0])
        await page.get_by_label(self.words.idp_password, exact=True).fill(user[1])
        if self.screenshots is not None:
            await page.screenshot(path=self.screenshots / "05-idp-login.png", full_page=True)
        await self.activate(page.get_by_role("button", name=self.words.idp_submit, exact=True))

    async def register(self, phone: str = "040 123 4567", email: str | None = None) -> None:
        """The one-time registration as the IdP pre-filled it (e-mail, the organisation logged
        in through), with a phone number, and the code from the mail sink."""
        page = self.page
        await expect(page).to_have_url(at(self.portal.broker_url, "/account/register"))
        heading = page.get_by_role("heading", level=1, name=self.words.register_heading)
        await expect(heading).to_be_visible()
        if await page.locator("ul.chosen li").count() == 0:  # the route named no organisation
            area = re.compile("^" + re.escape(self.words.partner_area))
            await self.activate(page.get_by_role("button", name=area))
        await page.get_by_label(self.words.phone, exact=True).fill(phone)
        if email is not None:
            await page.get_by_label(self.words.email, exact=True).fill(email)
        email = await page.get_by_label(self.words.email, exact=True).input_value()
        await page.get_by_label(re.compile("^" + re.escape(self.words.eligible))).check()
        await self.activate(
            page.get_by_role("button", name=self.words.register_continue, exact=True)
        )
        await self.confirm_code(email)

    async def confirm_code(self, email: str) -> None:
        page = self.page
        await expect(page).to_have_url(at(self.portal.broker_url, "/account/confirm"))
        heading = page.get_by_role("heading", level=1, name=self.words.confirm_heading)
        await expect(heading).to_be_visible()
        await page.get_by_label(self.words.code, exact=True).fill(last_code(email))
        await self.activate(page.get_by_role("button", name=self.words.confirm, exact=True))

    async def fill_profile(self, hyvinvointialue: str | None) -> None:
        page = self.page
        await expect(page).to_have_url(at(self.portal.url, "/profile"))
        await expect(
            page.get_by_role("heading", level=1, name=self.words.profile_heading)
        ).to_be_visible()
        await page.get_by_label(self.words.ammattiryhma).select_option(
            label=self.words.ammattiryhma_choice
        )
        if hyvinvointialue:
            await page.get_by_label(self.words.hyvinvointialue).select_option(label=hyvinvointialue)
        await self.activate(page.get_by_role("button", name=self.words.save, exact=True))

    async def logged_in(self) -> None:
        page = self.page
        await expect(page).to_have_url(at(self.portal.url, "/me"))
        main = page.get_by_role("main")
        await expect(main).to_contain_text(f"{self.words.logged_in_as} {HUS_USER_NAME}")
        await expect(main).to_contain_text(self.words.ammattiryhma_choice)
        if self.screenshots is not None:
            await page.screenshot(path=self.screenshots / "06-portal-me.png", full_page=True)
