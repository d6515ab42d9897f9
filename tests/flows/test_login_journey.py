"""The login journey through real servers: portal (authlib) → broker → mock organisation IdP →
broker → portal, each hop walked by hand so every page and redirect is checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.login_walk import choose, hidden_inputs, upstream_login, walk_to_idp
from tests.portal_client import Authorization, callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld


async def full_login(
    browser: httpx.AsyncClient, world: JourneyWorld, **params: str
) -> tuple[Any, Authorization, dict[str, str]]:
    await world.broker.add_client()
    client = portal_client(world.broker)
    auth = await start(client, **params)
    back = await upstream_login(browser, await walk_to_idp(browser, world.broker, auth.url))
    assert back.status_code == 303, back.text
    return client, auth, callback_params(back.headers["location"])


async def test_organisation_login_end_to_end(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    client, auth, params = await full_login(browser, world)
    assert params["state"] == auth.state
    token = await redeem(client, auth, params["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["acr"] == "http://ftn.ficora.fi/2017/loa2"
    assert claims["amr"] == ["pwd"]
    userinfo = await client.userinfo(token=token)
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["name"] == "Maija Meikäläinen"
    assert userinfo["email"].endswith("@example.hus.fi")


async def test_subject_is_stable_and_opaque(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    client, auth, params = await full_login(browser, world)
    first = await client.parse_id_token(await redeem(client, auth, params["code"]), auth.nonce)
    browser.cookies.clear()
    auth2 = await start(client, prompt="login")
    back = await upstream_login(browser, await walk_to_idp(browser, world.broker, auth2.url))
    code = callback_params(back.headers["location"])["code"]
    second = await client.parse_id_token(await redeem(client, auth2, code), auth2.nonce)
    assert first["sub"] == second["sub"]
    assert "hus" not in first["sub"]


async def test_pages_are_in_finnish_and_swedish(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker), ui_locales="sv")
    await browser.get(auth.url)
    role = await browser.get(world.broker.url + "/login/role")
    assert 'lang="sv"' in role.text
    assert "Jag är yrkesperson" in role.text
    browser.cookies.clear()
    auth = await start(portal_client(world.broker))
    await browser.get(auth.url)
    role = await browser.get(world.broker.url + "/login/role")
    assert 'lang="fi"' in role.text
    assert "Olen ammattilainen" in role.text


async def test_the_upstream_gets_prompt_max_age_login_hint_and_acr(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(
        portal_client(world.broker),
        prompt="login",
        max_age="300",
        login_hint="maija.meikalainen",
        acr_values="http://ftn.ficora.fi/2017/loa3",
        ui_locales="sv",
    )
    location = await walk_to_idp(browser, world.broker, auth.url)
    sent = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert sent["prompt"] == "login"
    assert sent["max_age"] == "300"
    assert sent["login_hint"] == "maija.meikalainen"
    assert sent["acr_values"] == "http://ftn.ficora.fi/2017/loa3"
    assert sent["ui_locales"] == "sv"
    assert sent["code_challenge_method"] == "S256"
    assert sent["redirect_uri"] == world.broker.url + "/upstream/oidc/callback/hus"


async def test_wellbeing_area_group_lists_its_organisations(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    location = await walk_to_idp(browser, world.broker, auth.url, "hyvinvointialueet", "lshp")
    assert location.startswith(world.idp_url + "/lshp/")


async def test_an_organisation_outside_the_chosen_group_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    base = world.broker.url
    await browser.get((await start(portal_client(world.broker))).url)
    await choose(browser, base, "/login/role", "professional")
    await choose(browser, base, "/login/route", "organisation")
    await choose(browser, base, "/login/group", "hyvinvointialueet")
    refused = await choose(browser, base, "/login/organisation", "hus")
    assert refused.status_code == 400
    assert "location" not in refused.headers


async def test_steps_without_earlier_answers_send_the_browser_back(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    await browser.get((await start(portal_client(world.broker))).url)
    jumped = await browser.get(world.broker.url + "/login/organisation")
    assert jumped.status_code == 303
    assert jumped.headers["location"] == "/login/role"


async def test_back_button_and_a_new_choice(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    base = world.broker.url
    await browser.get((await start(portal_client(world.broker))).url)
    await choose(browser, base, "/login/role", "professional")
    await choose(browser, base, "/login/route", "organisation")
    await choose(browser, base, "/login/group", "yliopistosairaanhoitopiirit")
    again = await choose(browser, base, "/login/group", "hyvinvointialueet")  # Back, then another
    assert again.headers["location"] == "/login/organisation"
    page = await browser.get(base + "/login/organisation")
    assert "LSHP" in page.text and "HUS" not in page.text


async def test_csrf_token_is_required_on_every_step(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    await browser.get((await start(portal_client(world.broker))).url)
    page = await browser.get(world.broker.url + "/login/role")
    form = hidden_inputs(page.text)
    missing = await browser.post(
        world.broker.url + "/login/role", data={"tx": form["tx"], "choice": "professional"}
    )
    assert missing.status_code == 403
    forged = await browser.post(
        world.broker.url + "/login/role", data={**form, "csrf_token": "x", "choice": "professional"}
    )
    assert forged.status_code == 403


async def test_expired_transaction_gives_a_page(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    await browser.get((await start(portal_client(world.broker))).url)
    world.broker.clock.advance(world.broker.settings.tokens.transaction_ttl + 1)
    page = await browser.get(world.broker.url + "/login/role")
    assert page.status_code == 400
    assert "Virhetunnus" in page.text


async def test_email_shortcut_finds_the_organisation_and_reveals_nothing_else(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    base = world.broker.url
    await browser.get((await start(portal_client(world.broker))).url)
    await choose(browser, base, "/login/role", "professional")
    await choose(browser, base, "/login/route", "organisation")
    page = await browser.get(base + "/login/group")
    form = hidden_inputs(page.text)
    unknown = await browser.post(base + "/login/email", data={**form, "email": "x@gmail.com"})
    assert unknown.status_code == 400
    assert 'aria-invalid="true"' in unknown.text
    found = await browser.post(base + "/login/email", data={**form, "email": "maija@pirha.fi"})
    assert found.headers["location"].startswith(world.idp_url + "/pirha/authorize?")


async def test_idp_hint_skips_the_choice_pages(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker), idp_hint="pshva")
    response = await browser.get(auth.url)
    assert response.headers["location"].startswith(world.idp_url + "/pshva/authorize?")


async def test_sso_session_serves_a_second_portal_without_upstream_login(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await full_login(browser, world)
    await world.broker.add_client("second")
    auth = await start(portal_client(world.broker, "second"))
    silent = await browser.get(auth.url)
    assert "code" in callback_params(silent.headers["location"])
    forced = await browser.get(
        (await start(portal_client(world.broker, "second"), prompt="login")).url
    )
    assert forced.headers["location"] == "/login/role"


async def test_remembered_organisation_is_offered_next_time(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    base = world.broker.url
    auth = await start(portal_client(world.broker))
    await browser.get(auth.url)
    await choose(browser, base, "/login/role", "professional")
    await choose(browser, base, "/login/route", "organisation")
    await choose(browser, base, "/login/group", "yliopistosairaanhoitopiirit")
    page = await browser.get(base + "/login/organisation")
    to_idp = await browser.post(
        base + "/login/organisation",
        data={**hidden_inputs(page.text), "choice": "hus", "remember": "yes"},
    )
    await upstream_login(browser, to_idp.headers["location"])
    # a new login (prompt=login) on this device: the role page offers HUS straight away
    auth = await start(portal_client(world.broker), prompt="login")
    await browser.get(auth.url)
    role = await browser.get(base + "/login/role")
    assert "Jatka: HUS" in role.text
    shortcut = await browser.post(base + "/login/remembered", data=hidden_inputs(role.text))
    assert shortcut.headers["location"].startswith(world.idp_url + "/hus/authorize?")


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("bad_signature", 502),
        ("wrong_issuer", 502),
        ("wrong_audience", 502),
        ("expired", 502),
        ("nonce_mismatch", 502),
        ("token_garbage", 502),
        ("token_error", 502),
    ],
)
async def test_bad_upstream_answers_are_refused_with_a_page_and_no_code(
    world: JourneyWorld, browser: httpx.AsyncClient, fault: str, status: int
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    location = await walk_to_idp(browser, world.broker, auth.url)
    await world.fault("hus", fault)
    back = await upstream_login(browser, location)
    assert back.status_code == status, back.text
    assert "location" not in back.headers
    assert "Virhetunnus" in back.text
    assert 'href="/login/role"' in back.text  # another route can be chosen


async def test_state_mismatch_at_the_callback_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    await walk_to_idp(browser, world.broker, auth.url)
    forged = await browser.get(
        world.broker.url + "/upstream/oidc/callback/hus", params={"code": "x", "state": "forged"}
    )
    assert forged.status_code == 502
    assert "location" not in forged.headers


async def test_callback_without_a_transaction_is_a_page(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(
        world.broker.url + "/upstream/oidc/callback/hus", params={"code": "x", "state": "y"}
    )
    assert response.status_code == 400
    assert "Virhetunnus" in response.text


async def test_idp_down_gives_a_page_that_offers_other_routes(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    location = await walk_to_idp(browser, world.broker, auth.url)
    await world.fault("hus", "slow_token", seconds=4)
    # the IdP's token endpoint hangs longer than the broker waits
    back = await upstream_login(browser, location)
    assert back.status_code == 502
    assert 'href="/login/role"' in back.text


async def test_cancel_at_the_idp_comes_back_as_a_page(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    location = await walk_to_idp(browser, world.broker, auth.url)
    state = parse_qs(urlsplit(location).query)["state"][0]
    denied = await browser.get(
        world.broker.url + "/upstream/oidc/callback/hus",
        params={"error": "access_denied", "state": state, "iss": world.idp_url + "/hus"},
    )
    assert denied.status_code == 400
    assert 'href="/login/role"' in denied.text


async def test_a_login_continues_on_another_broker_process(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """Two processes behind one issuer, sharing the store, keys and cookie secret: each step may
    land on either (as behind a load balancer), and the login still completes."""
    from broker.app import create_app
    from tests.servers import bound_socket, serve

    first = world.broker
    await first.add_client()
    client = portal_client(first)
    auth = await start(client)
    with serve(create_app(first.settings, clock=first.clock), bound_socket()) as other:
        await browser.get(auth.url)  # the transaction starts on the first process
        assert (await choose(browser, other, "/login/role", "professional")).status_code == 303
        assert (await choose(browser, first.url, "/login/route", "organisation")).status_code == 303
        await choose(browser, other, "/login/group", "yliopistosairaanhoitopiirit")
        to_idp = await choose(browser, other, "/login/organisation", "hus")
        back = await upstream_login(browser, to_idp.headers["location"])
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    assert (await client.parse_id_token(token, nonce=auth.nonce))["iss"] == first.url
