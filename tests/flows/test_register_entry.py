"""The personal route's registration through real HTTP with the mock Suomi.fi: the explicit
"Rekisteröi ammattilaistili" entry on the route page, the confirmation of who may register
(refused without it, in each language), and the home municipality Suomi.fi sends suggested as a
partner organisation, but never for a person with address protection (turvakielto)."""

from __future__ import annotations

import httpx
import pytest

from tests.flows.suomifi import TESSA, continued, cross_site_post, suomifi_answer, to_suomifi
from tests.login_walk import choose, hidden_inputs, register_if_new
from tests.portal_client import callback_params, portal_client, start
from tests.worlds import SAMLWorld

PEKKA_SUOJATTU = "260991-999R"  # the mock's person with turvakielto (a Helsinki address)
HELSINKI = "municipality:091"


async def at_broker(
    browser: httpx.AsyncClient, world: SAMLWorld, sso: str, hetu: str
) -> httpx.Response:
    acs, form = await suomifi_answer(browser, sso, hetu=hetu)
    return await continued(browser, world.broker.url, await cross_site_post(acs, form))


async def by_register_entry(
    browser: httpx.AsyncClient, world: SAMLWorld, hetu: str = TESSA, **params: str
) -> httpx.Response:
    """From the portal to the route page, its register entry, Suomi.fi: the broker's answer."""
    auth = await start(portal_client(world.broker), **params)
    assert (await browser.get(auth.url)).headers["location"] == "/login/role"
    route = await choose(browser, world.broker.url, "/login/role", "professional")
    assert route.headers["location"] == "/login/route"
    page = await browser.get(world.broker.url + "/login/route")
    assert 'action="/login/register"' in page.text
    entry = await browser.post(world.broker.url + "/login/register", data=hidden_inputs(page.text))
    assert entry.status_code == 303, entry.text
    assert entry.headers["location"].startswith(world.suomifi_url + "/sso?SAMLRequest=")
    return await at_broker(browser, world, entry.headers["location"], hetu)


async def test_the_register_entry_ends_at_the_form_and_later_at_the_account_page(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    route_page = await _route_page(saml_world, browser)
    assert "Rekisteröi ammattilaistili" in route_page.text
    browser.cookies.clear()

    answer = await by_register_entry(browser, saml_world)
    assert answer.status_code == 303 and answer.headers["location"] == "/account/register"
    done = await register_if_new(browser, answer)
    assert "code" in callback_params(done.headers["location"])  # then on to the portal

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other_day:
        again = await by_register_entry(other_day, saml_world)
        assert again.status_code == 303 and again.headers["location"] == "/account"
        page = await other_day.get(saml_world.broker.url + "/account")
        assert page.status_code == 200 and "+358401234567" in page.text


async def _route_page(world: SAMLWorld, browser: httpx.AsyncClient) -> httpx.Response:
    auth = await start(portal_client(world.broker))
    await browser.get(auth.url)
    await choose(browser, world.broker.url, "/login/role", "professional")
    return await browser.get(world.broker.url + "/login/route")


async def test_the_personal_route_still_registers_on_the_form(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    auth = await start(portal_client(saml_world.broker))
    answer = await at_broker(
        browser, saml_world, await to_suomifi(browser, saml_world, auth.url), TESSA
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/account/register"


@pytest.mark.parametrize(
    ("lang", "who", "refusal"),
    [
        ("fi", "sosiaali- ja terveydenhuollon ammattilaiset", "Vahvista, että olet"),
        ("sv", "yrkesutbildade personer inom social- och hälsovården", "Bekräfta att du är"),
        ("en", "social and health-care professionals", "Confirm that you are"),
    ],
)
async def test_registering_needs_the_confirmation_of_who_may_register(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, lang: str, who: str, refusal: str
) -> None:
    await saml_world.broker.add_client()
    answer = await by_register_entry(browser, saml_world, ui_locales=lang)
    assert answer.headers["location"] == "/account/register"
    page = await browser.get(saml_world.broker.url + "/account/register")
    assert who in page.text and 'name="eligible"' in page.text
    form = {
        **hidden_inputs(page.text),
        "phone": "040 123 4567",
        "email": "tessa@example.fi",
        "partner": HELSINKI,
        "action": "continue",
    }
    refused = await browser.post(saml_world.broker.url + "/account/register", data=form)
    assert refused.status_code == 400 and refusal in refused.text
    assert 'aria-invalid="true" aria-describedby="eligible-error' in refused.text
    assert await saml_world.broker.query("SELECT * FROM email_codes") == []  # no code sent
    ticked = await browser.post(
        saml_world.broker.url + "/account/register", data={**form, "eligible": "yes"}
    )
    assert ticked.status_code == 303 and ticked.headers["location"] == "/account/confirm"


async def test_the_home_municipality_is_suggested_but_not_with_address_protection(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    answer = await by_register_entry(browser, saml_world, TESSA)
    page = await browser.get(saml_world.broker.url + answer.headers["location"])
    assert f'value="add:{HELSINKI}"' in page.text and "valitse kotikuntasi: Helsinki" in page.text
    assert f'name="partner" value="{HELSINKI}"' not in page.text  # suggested, not chosen

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as protected:
        answer2 = await by_register_entry(protected, saml_world, PEKKA_SUOJATTU)
        page2 = await protected.get(saml_world.broker.url + answer2.headers["location"])
        assert page2.status_code == 200
        assert "valitse kotikuntasi:" not in page2.text and f"add:{HELSINKI}" not in page2.text
