"""Rate limits through a running broker: per address on /authorize, /token, the SAML ACS and the
journey forms, per portal on /authorize and /token, per e-mail address on one-time codes. A
refused request is 429 with Retry-After: OAuth error JSON on /token, a page in the person's
language elsewhere. The counters are rows of the store, one per window, purged by housekeeping."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.brokers import RunningBroker, start_broker
from tests.flows.test_registration import HUS_EMAIL, send, to_registration
from tests.mail import mail_sink
from tests.worlds import JourneyWorld


@pytest.fixture
def required_registration() -> tuple[str, ...]:
    """HUS shows the registration form here (`registration: required`): these tests use it."""
    return ("hus",)


UNLIMITED = {"hits": 100000, "seconds": 60}
SAML_RESPONSE = base64.b64encode(
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>'
).decode()


@pytest.fixture
def limits() -> dict[str, Any]:
    """The broker's `limits` settings; a test changes them with indirect parametrisation."""
    return {}


@pytest.fixture
def limited(tmp_path: Path, broker_keys: Path, limits: dict[str, Any]) -> Iterator[RunningBroker]:
    yield from start_broker(tmp_path, broker_keys, limits=limits)


def rows(broker: RunningBroker) -> dict[str, int]:
    """Every table of the broker's store and its row count (but housekeeping's lease, whose one
    row its first round writes at any moment)."""
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        tables = [n for (n,) in found if n != "leases"]
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608


def assert_limited(response: httpx.Response, window: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window


async def test_1000_acs_posts_from_one_address_get_429_after_the_limit_and_the_store_does_not_grow(
    limited: RunningBroker,
) -> None:
    before = rows(limited)
    form = {"SAMLResponse": SAML_RESPONSE, "RelayState": "made-up"}
    async with httpx.AsyncClient(timeout=30) as http:

        async def post() -> int:
            return (await http.post(limited.url + "/upstream/saml/acs", data=form)).status_code

        statuses: list[int] = []
        for _ in range(20):  # 50 at a time: one after another, a test client waits on each
            statuses += await asyncio.gather(*(post() for _ in range(50)))
        refused = await http.post(limited.url + "/upstream/saml/acs", data=form)
        limited.clock.advance(60)
        next_window = await http.post(limited.url + "/upstream/saml/acs", data=form)
    after = rows(limited)
    print(f"store rows before {sum(before.values())}, after {sum(after.values())}: {after}")
    assert statuses.count(400) == 300  # the default limit; no such login transaction
    assert statuses.count(429) == 700
    assert_limited(refused)
    assert "Liian monta yritystä" in refused.text
    assert next_window.status_code == 400
    assert after["transactions"] == before["transactions"]
    assert after["rate_counters"] == 2  # one per window, not one per request
    assert sum(after.values()) == sum(before.values()) + 2


@pytest.mark.parametrize("limits", [{"token_per_ip": {"hits": 5, "seconds": 60}}])
async def test_token_requests_from_one_address_are_limited_with_oauth_json(
    limited: RunningBroker,
) -> None:
    form = {"grant_type": "authorization_code", "code": "x", "client_id": "nobody"}
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [await http.post(limited.url + "/token", data=form) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert_limited(answers[5])
    assert answers[5].json()["error"] == "temporarily_unavailable"
    assert answers[5].headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "limits", [{"token_per_ip": UNLIMITED, "token_per_client": {"hits": 3, "seconds": 60}}]
)
async def test_a_portals_token_share_is_counted_once_it_has_authenticated(
    limited: RunningBroker,
) -> None:
    await limited.add_client()
    form = {"grant_type": "authorization_code", "code": "x", "redirect_uri": "x"}
    good = ("portal", limited.secrets["portal"])
    async with httpx.AsyncClient(timeout=10) as http:
        forged = [
            await http.post(limited.url + "/token", data=form, auth=("portal", "wrong"))
            for _ in range(10)
        ]
        real = [await http.post(limited.url + "/token", data=form, auth=good) for _ in range(4)]
        limited.clock.advance(60)
        later = await http.post(limited.url + "/token", data=form, auth=good)
    assert {f.status_code for f in forged} == {401}  # others cannot spend the portal's share
    assert [r.json()["error"] for r in real[:3]] == ["invalid_grant"] * 3
    assert_limited(real[3])
    assert real[3].json()["error"] == "temporarily_unavailable"
    assert later.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("limits", [{"authorize_per_ip": {"hits": 2, "seconds": 60}}])
async def test_authorize_from_one_address_is_limited_with_a_page_in_the_persons_language(
    limited: RunningBroker,
) -> None:
    headers = {"Accept-Language": "sv"}
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            await http.get(limited.url + "/authorize?client_id=x", headers=headers)
            for _ in range(3)
        ]
    assert [a.status_code for a in answers[:2]] == [400, 400]
    assert_limited(answers[2])
    assert "För många försök" in answers[2].text


@pytest.mark.parametrize(
    "limits",
    [{"authorize_per_ip": UNLIMITED, "authorize_per_client": {"hits": 2, "seconds": 60}}],
)
async def test_authorize_is_limited_per_registered_portal(limited: RunningBroker) -> None:
    await limited.add_client()
    query = "/authorize?response_type=code&scope=openid&client_id="
    async with httpx.AsyncClient(timeout=10) as http:
        unknown = [await http.get(limited.url + query + f"nobody{i}") for i in range(5)]
        portal = [await http.get(limited.url + query + "portal") for _ in range(3)]
    assert {u.status_code for u in unknown} == {400}
    assert (
        rows(limited)["rate_counters"] == 2
    )  # the address's and the portal's, none for made-up ids
    assert [p.status_code for p in portal[:2]] != [429, 429]
    assert_limited(portal[2])


@pytest.mark.parametrize("limits", [{"journey_per_ip": {"hits": 3, "seconds": 60}}])
async def test_journey_forms_from_one_address_are_limited(limited: RunningBroker) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            await http.post(limited.url + path, data={"choice": "x"})
            for path in ("/login/role", "/login/route", "/account/register", "/account/confirm")
        ]
    assert 429 not in [a.status_code for a in answers[:3]]
    assert_limited(answers[3])
    assert "Liian monta yritystä" in answers[3].text


async def test_one_address_gets_a_bounded_number_of_codes_across_logins(
    world: JourneyWorld,
) -> None:
    """Five codes a login (the transaction's own limit), ten an address an hour (the default):
    a third login's first code is refused beside the field, and no mail goes out."""
    await world.broker.add_client()
    sent_before = len(mail_sink().messages(HUS_EMAIL))
    for _ in range(2):
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            _, _, page = await to_registration(browser, world)
            assert (await send(browser, world, page, action="continue")).status_code == 303
            confirm = world.broker.url + "/account/confirm"
            form = dict(re_hidden(await browser.get(confirm)))
            for _ in range(4):
                resent = await browser.post(confirm, data={**form, "action": "resend"})
                assert "Uusi koodi lähetettiin" in resent.text
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        _, _, page = await to_registration(browser, world)
        third = await send(browser, world, page, action="continue")
    assert third.status_code == 400
    assert "Koodeja on lähetetty liian monta" in third.text
    assert len(mail_sink().messages(HUS_EMAIL)) - sent_before == 10


def re_hidden(page: httpx.Response) -> dict[str, str]:
    from tests.login_walk import hidden_inputs

    return hidden_inputs(page.text)
