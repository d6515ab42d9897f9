"""Linking a second login route to an account, through real HTTP with both routes served: the
mock organisation OIDC IdP (HUS) and the mock Suomi.fi. By the identity code, where both routes
supply one; else by logging in with both routes once in one transaction; and never when the two
logins are of different people.

The committed `idp_configs/hus.yaml` maps no identity code (whether HUS's IdP sends a verified
one is a decision for its own config); the world here maps the `hetu` claim the mock HUS sends
and trusts it (`trust_identity_code: true`), as an organisation IdP that sends a verified one
would be configured; `test_identity_code_trust.py` has the same world with HUS untrusted. The mock
HUS logs in at loa2 unless the portal asks for loa3 (`acr_values`), the level that linking by
the identity code needs; the mock Suomi.fi's default method (card) is loa3."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.starlette_client import StarletteOAuth2App

from tests.brokers import start_broker
from tests.flows.binding import attacker_gets_nothing, victim_refused
from tests.flows.suomifi import (
    LOA3,
    TESSA,
    continued,
    cross_site_post,
    suomifi_answer,
    to_suomifi,
)
from tests.login_walk import (
    TEST_PARTNER,
    choose,
    hidden_inputs,
    register_if_new,
    upstream_login,
    walk_to_idp,
)
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.servers import bound_socket, serve
from tests.worlds import SAML_SP_SETTINGS, SAMLWorld, idp_configs_for

MAIJA = ("maija.meikalainen", "testi1234")  # at HUS, with Tessa's identity code
MATTI = ("matti.virtanen", "testi5678")  # at HUS, no identity code
AINO = ("aino.opiskelija", "testi9012")  # at HUS, no identity code
VEIKKO, ANNA = "010469-999W", "010675-9981"  # Suomi.fi test persons
YSHP = "yliopistosairaanhoitopiirit"
LINK_FAILED = "Tälläkään tunnistustavalla ei löytynyt tiliä"
LINK_REFUSED = "Tunnistautumiset kuuluvat eri henkilöille tai toiselle tilille"


@dataclass
class BothRoutesWorld(SAMLWorld):
    """The broker with both routes: the organisations on OIDC at the mock OIDC IdP (`idp_url`)
    and Suomi.fi at the mock Suomi.fi (`suomifi_url`)."""

    idp_url: str = ""


def map_hetu(hus_yaml: Path, *, trusted: bool) -> None:
    text = hus_yaml.read_text()
    assert "claims:\n  title: title\n" in text, "hus.yaml's claims changed: update this test"
    assert "trust_identity_code: false\n" in text, "hus.yaml's trust changed: update this test"
    text = text.replace("claims:\n  title: title\n", "claims:\n  title: title\n  hetu: hetu\n")
    if trusted:
        text = text.replace("trust_identity_code: false\n", "trust_identity_code: true\n")
    hus_yaml.write_text(text)


@pytest.fixture
def hus_registration() -> str:
    """HUS's `registration` here: `required`, so that its first login shows the form whose
    "Log in another way" these tests use; a test of the automatic account parametrizes it."""
    return "required"


@pytest.fixture
def both_routes_world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    broker_keys: Path,
    mock_idp_keys: Path,
    saml_sp_keys: Path,
    hus_registration: str,
) -> Iterator[BothRoutesWorld]:
    """HUS trusted for the identity code, unless parametrized (indirect) with False."""
    from mock_idps.oidc_idp import create_app as create_mock_idp
    from mock_idps.suomifi_idp import create_app as create_suomifi

    broker_sock, idp_sock, suomifi_sock = bound_socket(), bound_socket(), bound_socket()
    broker_url = f"http://127.0.0.1:{broker_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    suomifi_base = f"http://127.0.0.1:{suomifi_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[broker_url + "/upstream/oidc/callback/{org}"],
        key_dir=mock_idp_keys,
    )
    required = ("hus",) if hus_registration == "required" else ()
    configs = idp_configs_for(
        idp_base, tmp_path / "idp_configs", suomifi_base, required_registration=required
    )
    map_hetu(configs / "hus.yaml", trusted=getattr(request, "param", True))
    shutil.copytree(saml_sp_keys, tmp_path / "saml-keys")
    with serve(mock, idp_sock) as idp_url:
        for running in start_broker(
            tmp_path, broker_keys, broker_sock, idp_configs=configs, saml_sp=SAML_SP_SETTINGS
        ):
            running.idp_url = idp_url
            suomifi = create_suomifi(
                suomifi_base,
                sp_metadata=[running.url + "/saml/metadata"],
                key_dir=mock_idp_keys / "suomifi",
            )
            with serve(suomifi, suomifi_sock) as suomifi_url:
                yield BothRoutesWorld(running, suomifi_url, idp_url=idp_url)


@pytest.fixture
async def portal(both_routes_world: BothRoutesWorld) -> StarletteOAuth2App:
    await both_routes_world.broker.add_client()
    return portal_client(both_routes_world.broker)


# -- the two routes, as a browser goes them ---------------------------------------------------
async def suomifi_to_broker(
    browser: httpx.AsyncClient, world: BothRoutesWorld, sso_url: str, hetu: str
) -> httpx.Response:
    """The person picked at the mock Suomi.fi, the cross-site ACS POST and the same-site
    continue: the broker's answer (to the portal, to registration, or a page)."""
    acs, form = await suomifi_answer(browser, sso_url, hetu=hetu)
    held = await cross_site_post(acs, form)
    assert held.status_code == 303, held.text
    return await continued(browser, world.broker.url, held)


async def by_suomifi(
    browser: httpx.AsyncClient,
    world: BothRoutesWorld,
    portal: StarletteOAuth2App,
    hetu: str,
    **params: Any,
) -> tuple[Any, httpx.Response]:
    auth = await start(portal, **params)
    sso = await to_suomifi(browser, world, auth.url)
    return auth, await suomifi_to_broker(browser, world, sso, hetu)


async def by_hus(
    browser: httpx.AsyncClient,
    world: BothRoutesWorld,
    portal: StarletteOAuth2App,
    user: tuple[str, str],
    **params: Any,
) -> tuple[Any, httpx.Response]:
    auth = await start(portal, **params)
    to_idp = await walk_to_idp(browser, world.broker, auth.url)
    return auth, await upstream_login(browser, to_idp, user, register=False)


async def sub_of(portal: StarletteOAuth2App, auth: Any, answer: httpx.Response) -> str:
    """The portal's `sub` from a broker answer that redirects back to it with a code."""
    assert answer.status_code == 303, answer.text
    tokens = await redeem(portal, auth, callback_params(answer.headers["location"])["code"])
    return str((await portal.userinfo(token=tokens))["sub"])


async def register(
    browser: httpx.AsyncClient, answer: httpx.Response, email: str
) -> httpx.Response:
    assert answer.headers.get("location") == "/account/register", answer.text
    return await register_if_new(browser, answer, email=email, partner=TEST_PARTNER)


async def press_link(browser: httpx.AsyncClient, world: BothRoutesWorld) -> httpx.Response:
    """On the registration page: "Tunnistaudu toisella tavalla" (I already have an account)."""
    page = await browser.get(world.broker.url + "/account/register")
    assert page.status_code == 200 and 'value="link"' in page.text, page.text
    return await browser.post(
        world.broker.url + "/account/register",
        data={**hidden_inputs(page.text), "phone": "", "email": "", "action": "link"},
    )


async def to_suomifi_for_link(browser: httpx.AsyncClient, world: BothRoutesWorld) -> str:
    linking = await press_link(browser, world)
    assert linking.status_code == 303 and linking.headers["location"] == "/login/route"
    to_idp = await choose(browser, world.broker.url, "/login/route", "personal")
    assert to_idp.status_code == 303, to_idp.text
    sso = str(to_idp.headers["location"])
    assert sso.startswith(world.suomifi_url + "/sso?SAMLRequest=")
    return sso


# -- the store, as the tests look at it -------------------------------------------------------
def query(world: BothRoutesWorld, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
        return db.execute(sql).fetchall()


def account_ids(world: BothRoutesWorld) -> list[str]:
    return [row[0] for row in query(world, "SELECT account_id FROM accounts")]


def links(world: BothRoutesWorld) -> list[tuple[str, str, str]]:
    return sorted(
        (row[0], row[1], row[2])
        for row in query(world, "SELECT account_id, idp_id, route FROM account_links")
    )


def audit(world: BothRoutesWorld, action: str) -> list[dict[str, Any]]:
    rows = query(world, f"SELECT changes FROM account_audit WHERE action = '{action}'")  # noqa: S608
    return [json.loads(row[0]) for row in rows]


# -- by the identity code -------------------------------------------------------------------
async def test_suomifi_account_is_found_by_the_identity_code_an_organisation_sends(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, TESSA)
    first_sub = await sub_of(portal, auth, await register(browser, answer, "tessa@example.fi"))

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other_day:
        auth2, answer2 = await by_hus(other_day, world, portal, MAIJA, acr_values=LOA3)
        assert answer2.headers["location"] != "/account/register"  # no registration page
        assert await sub_of(portal, auth2, answer2) == first_sub

    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "hus", "proof": "identity code"}]
    dump = world.broker.settings.store.sqlite_path.read_bytes()
    assert TESSA.encode() not in dump  # the store knows the person only by a keyed hash


# -- by logging in with both routes -----------------------------------------------------------
async def test_a_route_without_identity_code_is_linked_by_logging_in_with_the_other_once(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, VEIKKO)
    first_sub = await sub_of(portal, auth, await register(browser, answer, "veikko@example.fi"))

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as new_browser:
        auth2, answer2 = await by_hus(new_browser, world, portal, MATTI)
        assert answer2.headers["location"] == "/account/register"  # HUS alone proves nothing
        sso = await to_suomifi_for_link(new_browser, world)
        answer3 = await suomifi_to_broker(new_browser, world, sso, VEIKKO)
        assert answer3.headers["location"] != "/account/register"  # straight to the portal
        assert await sub_of(portal, auth2, answer3) == first_sub

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as next_day:
        auth4, answer4 = await by_hus(next_day, world, portal, MATTI)
        assert await sub_of(portal, auth4, answer4) == first_sub  # HUS alone, now linked

    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "hus", "proof": "login by both routes"}]


@pytest.mark.parametrize("hus_registration", ["automatic"])
async def test_an_automatic_organisation_account_gets_suomifi_linked_by_a_login_with_both(
    both_routes_world: BothRoutesWorld,
    portal: StarletteOAuth2App,
    browser: httpx.AsyncClient,
    hus_registration: str,
) -> None:
    """HUS makes the account at the first login (no form); Suomi.fi later finds none, and the
    person's "Log in another way" with HUS links Suomi.fi to the HUS account."""
    world = both_routes_world
    auth, answer = await by_hus(browser, world, portal, MATTI)
    assert answer.headers["location"] != "/account/register"  # the account made at once
    first_sub = await sub_of(portal, auth, answer)

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as later:
        auth2, answer2 = await by_suomifi(later, world, portal, VEIKKO)
        assert answer2.headers["location"] == "/account/register"
        linking = await press_link(later, world)
        assert linking.headers["location"] == "/login/route"
        await choose(later, world.broker.url, "/login/route", "organisation")
        await choose(later, world.broker.url, "/login/group", YSHP)
        to_hus = await choose(later, world.broker.url, "/login/organisation", "hus")
        answer3 = await upstream_login(later, to_hus.headers["location"], MATTI, register=False)
        assert await sub_of(portal, auth2, answer3) == first_sub

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as next_day:
        auth4, answer4 = await by_suomifi(next_day, world, portal, VEIKKO)
        assert await sub_of(portal, auth4, answer4) == first_sub  # Suomi.fi alone, now linked
    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "suomifi", "proof": "login by both routes"}]


async def test_when_neither_route_has_an_account_both_go_into_the_one_registered_then(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    world = both_routes_world
    auth, answer = await by_hus(browser, world, portal, AINO)
    assert answer.headers["location"] == "/account/register"
    sso = await to_suomifi_for_link(browser, world)
    nothing = await suomifi_to_broker(browser, world, sso, ANNA)
    assert nothing.status_code == 303 and nothing.headers["location"] == "/account/register"
    page = await browser.get(world.broker.url + "/account/register")
    assert page.status_code == 200 and LINK_FAILED in page.text
    sub = await sub_of(portal, auth, await register(browser, nothing, "aino@example.fi"))

    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "hus", "proof": "login by both routes"}]
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as by_org:
        auth2, answer2 = await by_hus(by_org, world, portal, AINO)
        assert await sub_of(portal, auth2, answer2) == sub
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as by_person:
        auth3, answer3 = await by_suomifi(by_person, world, portal, ANNA)
        assert await sub_of(portal, auth3, answer3) == sub
    assert len(account_ids(world)) == 1


# -- never two people in one account ----------------------------------------------------------
async def test_an_organisation_login_with_another_persons_identity_code_is_not_linked(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Maija's HUS login carries Tessa's identity code; the account she then logs in to by
    Suomi.fi is Veikko's: a clear page, and HUS is not linked to Veikko's account."""
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, VEIKKO)
    await sub_of(portal, auth, await register(browser, answer, "veikko@example.fi"))

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other:
        _, answer2 = await by_hus(other, world, portal, MAIJA)
        assert answer2.headers["location"] == "/account/register"
        sso = await to_suomifi_for_link(other, world)
        refused = await suomifi_to_broker(other, world, sso, VEIKKO)
        assert refused.status_code == 409, refused.text
        assert LINK_REFUSED in refused.text and 'lang="fi"' in refused.text
        assert "Virhetunnus" in refused.text

    [account] = account_ids(world)
    assert links(world) == [(account, "suomifi", "personal")]
    assert audit(world, "linked") == []
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as again:
        _, answer3 = await by_hus(again, world, portal, MAIJA)
        assert answer3.headers["location"] == "/account/register"  # still no account


async def test_a_suomifi_login_of_another_person_is_not_linked(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Anna, without an account, presses "link" and logs in as Veikko, who has one: refused."""
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, VEIKKO)
    await sub_of(portal, auth, await register(browser, answer, "veikko@example.fi"))

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other:
        _, answer2 = await by_suomifi(other, world, portal, ANNA, prompt="login")
        assert answer2.headers["location"] == "/account/register"
        sso = await to_suomifi_for_link(other, world)  # prompt=login: Suomi.fi asks again
        refused = await suomifi_to_broker(other, world, sso, VEIKKO)
        assert refused.status_code == 409, refused.text
        assert LINK_REFUSED in refused.text

    [account] = account_ids(world)
    assert links(world) == [(account, "suomifi", "personal")]
    assert audit(world, "linked") == []


async def test_two_people_without_accounts_cannot_register_one_together(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Maija's HUS login carries Tessa's identity code; neither she nor Anna, as whom she then
    logs in by Suomi.fi, has an account: the two are not registered as one."""
    world = both_routes_world
    _, answer = await by_hus(browser, world, portal, MAIJA)
    assert answer.headers["location"] == "/account/register"
    sso = await to_suomifi_for_link(browser, world)
    refused = await suomifi_to_broker(browser, world, sso, ANNA)
    assert refused.status_code == 409, refused.text  # at once, not after registering
    assert LINK_REFUSED in refused.text
    assert links(world) == [] and account_ids(world) == []


async def test_nor_when_a_login_without_identity_code_comes_between_them(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Maija (HUS, Tessa's code) links to Aino (HUS, no code), who has no account either; on
    the registration page that follows she links again, to Anna by Suomi.fi: refused, since
    all three logins would go into the account."""
    world = both_routes_world
    _, answer = await by_hus(browser, world, portal, MAIJA, prompt="login")
    assert answer.headers["location"] == "/account/register"
    linking = await press_link(browser, world)
    assert linking.headers["location"] == "/login/route"
    for path, choice in (("/login/route", "organisation"), ("/login/group", YSHP)):
        assert (await choose(browser, world.broker.url, path, choice)).status_code == 303
    to_hus = await choose(browser, world.broker.url, "/login/organisation", "hus")
    second = await upstream_login(browser, to_hus.headers["location"], AINO, register=False)
    assert second.headers["location"] == "/account/register"
    page = await browser.get(world.broker.url + "/account/register")
    assert LINK_FAILED in page.text
    sso = await to_suomifi_for_link(browser, world)
    refused = await suomifi_to_broker(browser, world, sso, ANNA)
    assert refused.status_code == 409, refused.text
    assert LINK_REFUSED in refused.text
    assert links(world) == [] and account_ids(world) == []


# -- never by an answer that reached this browser from elsewhere -----------------------------
async def test_a_route_is_not_linked_to_the_account_of_whoever_answered_elsewhere(
    both_routes_world: BothRoutesWorld,
    portal: StarletteOAuth2App,
    browser: httpx.AsyncClient,
    attacker: httpx.AsyncClient,
) -> None:
    """The escalation: the attacker logs in at HUS (no identity code), presses "log in another
    way" and sends the Suomi.fi URL to the victim, whose account would have got the attacker's
    HUS route linked: a permanent takeover."""
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, VEIKKO)
    victim_sub = await sub_of(portal, auth, await register(browser, answer, "veikko@example.fi"))
    before = links(world)

    _, answer = await by_hus(attacker, world, portal, MATTI)
    assert answer.headers["location"] == "/account/register"
    sso = await to_suomifi_for_link(attacker, world)
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as victim:
        acs, form = await suomifi_answer(victim, sso, hetu=VEIKKO)
        held = await cross_site_post(acs, form)
        assert held.status_code == 303, held.text
        await attacker_gets_nothing(attacker, world.broker.url, held)
        await victim_refused(victim, world.broker.url, held)
    assert links(world) == before  # HUS is not linked to the victim's account

    _, answer2 = await by_hus(attacker, world, portal, MATTI)  # and HUS alone is not them
    assert answer2.headers["location"] == "/account/register"
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as next_day:
        auth3, answer3 = await by_suomifi(next_day, world, portal, VEIKKO)  # the victim's own
        assert await sub_of(portal, auth3, answer3) == victim_sub
