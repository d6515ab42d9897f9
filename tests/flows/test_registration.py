"""One-time registration through real HTTP: the first login registers (pre-filled from the IdP,
confirmed by a code over real SMTP), the second goes straight to the portal; every wrong input is
told beside its field in the person's language with what was typed kept; racing confirmations
leave one account."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.brokers import BACKENDS
from tests.login_walk import hidden_inputs, register_if_new, upstream_login, walk_to_idp
from tests.mail import last_code
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """These flows run on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def required_registration() -> tuple[str, ...]:
    """HUS shows the registration form here (`registration: required`): these tests use it."""
    return ("hus",)


HUS_EMAIL = "maija.meikalainen@example.hus.fi"
PRO_SCOPES = ("openid", "profile", "email", "phone", "professional")


async def to_registration(
    browser: httpx.AsyncClient, world: JourneyWorld, scope: str = "openid", **params: str
) -> tuple[Any, Any, httpx.Response]:
    """The portal's authorization, the HUS login, and the registration page it lands on."""
    client = portal_client(world.broker, scope=scope)
    auth = await start(client, **params)
    to_idp = await walk_to_idp(browser, world.broker, auth.url)
    back = await upstream_login(browser, to_idp, register=False)
    assert back.status_code == 303 and back.headers["location"] == "/account/register"
    page = await browser.get(world.broker.url + "/account/register")
    assert page.status_code == 200
    return client, auth, page


def typed(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', page.text)
    assert found, name
    return found.group(1)


def chosen(page: httpx.Response) -> list[str]:
    return re.findall(r'name="partner" value="([^"]+)"', page.text)


async def send(
    browser: httpx.AsyncClient, world: JourneyWorld, page: httpx.Response, **fields: Any
) -> httpx.Response:
    """The form as the page has it (what is typed and chosen), with `fields` changed."""
    data = {
        **hidden_inputs(page.text),
        "phone": typed(page, "phone"),
        "email": typed(page, "email"),
        "partner": chosen(page),
        "eligible": "yes",
        **fields,
    }
    return await browser.post(world.broker.url + "/account/register", data=data)


async def accounts(world: JourneyWorld) -> list[tuple[str, str, str | None]]:
    rows = await world.broker.query("SELECT phone, email, email_verified_at FROM accounts")
    return [(row["phone"], row["email"], row["email_verified_at"]) for row in rows]


async def test_first_login_registers_and_the_second_goes_straight_through(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client(allowed_scopes=PRO_SCOPES)
    client, auth, page = await to_registration(browser, world, " ".join(PRO_SCOPES))
    assert typed(page, "email") == HUS_EMAIL  # what the IdP said
    assert typed(page, "phone") == "+358500000101"
    assert chosen(page) == ["org:hus"]  # the organisation logged in through

    sent = await send(browser, world, page, phone="050 000 0101", action="continue")
    assert sent.status_code == 303 and sent.headers["location"] == "/account/confirm"
    confirm = await browser.get(world.broker.url + "/account/confirm")
    assert HUS_EMAIL in confirm.text
    done = await browser.post(
        world.broker.url + "/account/confirm",
        data={**hidden_inputs(confirm.text), "code": last_code(HUS_EMAIL), "action": "confirm"},
    )
    tokens = await redeem(client, auth, callback_params(done.headers["location"])["code"])
    info = await client.userinfo(token=tokens)
    assert info["email"] == HUS_EMAIL and info["email_verified"] is True
    assert info["phone_number"] == "+358500000101"
    assert [org["id"] for org in info["partner_organisations"]] == ["org:hus"]
    assert info["partner_organisations"][0]["names"]["sv"] == "HUS-sammanslutningen"
    first_sub = info["sub"]
    [(phone, email, verified_at)] = await accounts(world)
    assert (phone, email) == ("+358500000101", HUS_EMAIL) and verified_at is not None

    browser.cookies.clear()  # another day, another browser: straight to the portal
    auth2 = await start(client, prompt="login")
    back = await upstream_login(
        browser, await walk_to_idp(browser, world.broker, auth2.url), register=False
    )
    tokens2 = await redeem(client, auth2, callback_params(back.headers["location"])["code"])
    assert (await client.userinfo(token=tokens2))["sub"] == first_sub
    assert len(await accounts(world)) == 1


@pytest.mark.parametrize(
    ("lang", "phone_error", "email_error", "partner_error"),
    [
        ("fi", "Puhelinnumero ei ole kelvollinen", "Sähköpostiosoite ei ole kelvollinen",
         "Valitse vähintään yksi yhteistyöorganisaatio"),
        ("sv", "Telefonnumret är inte giltigt", "E-postadressen är inte giltig",
         "Välj minst en samarbetsorganisation"),
        ("en", "The phone number is not valid", "The e-mail address is not valid",
         "Choose at least one partner organisation"),
    ],
)  # fmt: skip
async def test_every_wrong_field_is_told_in_the_persons_language_and_nothing_typed_is_lost(
    world: JourneyWorld,
    browser: httpx.AsyncClient,
    lang: str,
    phone_error: str,
    email_error: str,
    partner_error: str,
) -> None:
    await world.broker.add_client()
    _, _, page = await to_registration(browser, world, ui_locales=lang)
    refused = await send(
        browser, world, page, phone="12345", email="maija@", partner=[], action="continue"
    )
    assert refused.status_code == 400
    assert f'lang="{lang}"' in refused.text
    for message in (phone_error, email_error, partner_error):
        assert message in refused.text
    assert typed(refused, "phone") == "12345" and typed(refused, "email") == "maija@"
    assert 'aria-invalid="true" aria-describedby="phone-error"' in refused.text
    again = await browser.get(world.broker.url + "/account/register")  # a reload keeps it too
    assert typed(again, "phone") == "12345" and chosen(again) == []
    assert await accounts(world) == []


async def test_search_add_and_remove_work_without_javascript(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    _, _, page = await to_registration(browser, world)
    found = await send(browser, world, page, phone="040 1", q="hameenlinna", action="search")
    assert found.status_code == 200
    assert 'value="add:municipality:109"' in found.text and "Hämeenlinna" in found.text
    added = await send(browser, world, found, phone="040 1", action="add:municipality:109")
    assert chosen(added) == ["org:hus", "municipality:109"]
    removed = await send(browser, world, added, phone="040 1", action="remove:org:hus")
    assert chosen(removed) == ["municipality:109"]
    assert typed(removed, "phone") == "040 1"  # every button sends, and keeps, what was typed
    school = await send(browser, world, removed, q="tampereen ammattikorkeakoulu", action="search")
    assert "Oppilaitos" in school.text  # students find their school


async def test_a_tampered_form_is_refused_with_what_was_saved_kept(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    _, _, page = await to_registration(browser, world)
    saved = await send(browser, world, page, phone="040 123 4567", action="search")
    forged_org = await browser.post(
        world.broker.url + "/account/register",
        data={**hidden_inputs(saved.text), "phone": "040 123 4567", "email": HUS_EMAIL,
              "partner": ["org:nowhere"], "action": "continue"},
    )  # fmt: skip
    assert forged_org.status_code == 400
    assert "ei ole enää valittavissa" in forged_org.text
    assert typed(forged_org, "phone") == "040 123 4567"
    no_csrf = await browser.post(
        world.broker.url + "/account/register",
        data={"tx": hidden_inputs(saved.text)["tx"], "csrf_token": "forged", "phone": "999",
              "email": "x@example.fi", "partner": ["org:hus"], "action": "continue"},
    )  # fmt: skip
    assert no_csrf.status_code == 400
    assert "Lomake oli vanhentunut" in no_csrf.text
    assert typed(no_csrf, "phone") == "040 123 4567"  # the saved draft, not the forged values
    assert await accounts(world) == []


async def test_a_code_sent_to_one_address_does_not_verify_another(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """The code proves the address it was sent to: after it went to A, the draft changed to B
    (a search saves the draft, no new code), then A's code is typed: refused, no account."""
    await world.broker.add_client()
    _, _, page = await to_registration(browser, world)
    sent = await send(browser, world, page, phone="040 123 4567", action="continue")
    assert sent.status_code == 303 and sent.headers["location"] == "/account/confirm"
    code_for_a = last_code(HUS_EMAIL)
    form_page = await browser.get(world.broker.url + "/account/register")
    changed = await send(browser, world, form_page, email="mallory@example.fi", action="search")
    assert changed.status_code == 200 and typed(changed, "email") == "mallory@example.fi"
    confirm = await browser.get(world.broker.url + "/account/confirm")
    done = await browser.post(
        world.broker.url + "/account/confirm",
        data={**hidden_inputs(confirm.text), "code": code_for_a, "action": "confirm"},
    )
    assert done.status_code == 400
    assert "location" not in done.headers
    assert await accounts(world) == []


async def test_wrong_expired_and_exhausted_codes_are_told_and_a_new_one_works(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    client, auth, page = await to_registration(browser, world)
    await send(browser, world, page, phone="040 123 4567", action="continue")
    url = world.broker.url + "/account/confirm"
    confirm = await browser.get(url)
    form = hidden_inputs(confirm.text)

    async def try_code(code: str) -> httpx.Response:
        return await browser.post(url, data={**form, "code": code, "action": "confirm"})

    wrong = await try_code("000000" if last_code(HUS_EMAIL) != "000000" else "111111")
    assert wrong.status_code == 400 and "Koodi ei ole oikein" in wrong.text
    assert (await try_code("")).status_code == 400
    world.broker.clock.advance(601)
    expired = await try_code(last_code(HUS_EMAIL))
    assert "Koodi on vanhentunut" in expired.text
    resent = await browser.post(url, data={**form, "action": "resend"})
    assert "Uusi koodi lähetettiin" in resent.text
    for _ in range(5):
        await try_code("000000" if last_code(HUS_EMAIL) != "000000" else "111111")
    exhausted = await try_code(last_code(HUS_EMAIL))
    assert "liian monta kertaa" in exhausted.text
    await browser.post(url, data={**form, "action": "resend"})
    done = await try_code(last_code(HUS_EMAIL))
    assert done.status_code == 303
    assert "code" in callback_params(done.headers["location"])
    assert len(await accounts(world)) == 1
    _ = client, auth


async def test_racing_registrations_of_one_person_leave_one_account(
    world: JourneyWorld,
) -> None:
    """Two browsers of the same person reach the code page, then confirm at the same moment:
    one account, and both logins end in it."""
    await world.broker.add_client()
    client = portal_client(world.broker)
    ready: list[tuple[httpx.AsyncClient, Any, dict[str, str]]] = []
    for email in ("eka@example.fi", "toka@example.fi"):
        browser = httpx.AsyncClient(follow_redirects=False, timeout=10)
        auth = await start(client)
        to_idp = await walk_to_idp(browser, world.broker, auth.url)
        back = await upstream_login(browser, to_idp, register=False)
        assert back.headers["location"] == "/account/register"
        page = await browser.get(world.broker.url + "/account/register")
        await browser.post(
            world.broker.url + "/account/register",
            data={**hidden_inputs(page.text), "phone": "040 123 4567", "email": email,
                  "partner": ["org:hus"], "eligible": "yes", "action": "continue"},
        )  # fmt: skip
        confirm = await browser.get(world.broker.url + "/account/confirm")
        form = {**hidden_inputs(confirm.text), "code": last_code(email), "action": "confirm"}
        ready.append((browser, auth, form))
    answers = await asyncio.gather(
        *(b.post(world.broker.url + "/account/confirm", data=f) for b, _, f in ready)
    )
    subs = set()
    for (browser, auth, _), answer in zip(ready, answers, strict=True):
        assert answer.status_code == 303, answer.text
        tokens = await redeem(client, auth, callback_params(answer.headers["location"])["code"])
        subs.add((await client.userinfo(token=tokens))["sub"])
        await browser.aclose()
    assert len(subs) == 1
    assert len(await accounts(world)) == 1


async def test_the_helper_registers_a_first_login(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """The flow tests' own helper (tests/login_walk.py) goes the same way as a person."""
    await world.broker.add_client()
    client = portal_client(world.broker)
    auth = await start(client)
    back = await upstream_login(
        browser, await walk_to_idp(browser, world.broker, auth.url), register=False
    )
    done = await register_if_new(browser, back)
    assert "code" in callback_params(done.headers["location"])
