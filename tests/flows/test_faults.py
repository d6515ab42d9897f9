"""Faults made to happen for real around a running broker: an IdP that is down or too slow, and
the SMTP server down during registration. Each gives the person a clear page or message, keeps
the login transaction usable, and leaves the rest of the broker working."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_idps.mail_sink import MailSink
from tests.brokers import RunningBroker, start_broker
from tests.login_walk import choose, hidden_inputs, upstream_login, walk_to_idp
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.servers import bound_socket
from tests.worlds import JourneyWorld, idp_configs_for, serve_journey


def assert_upstream_page(response: httpx.Response) -> None:
    """The page of an IdP that failed us: 502, in the person's language, offering other routes."""
    assert response.status_code == 502, response.text
    assert 'lang="en"' in response.text
    assert "The identification service is not responding" in response.text
    assert 'href="/login/role"' in response.text
    assert "Traceback" not in response.text


async def test_an_idp_that_is_down_gives_a_page_and_the_login_goes_on(
    tmp_path: Path, broker_keys: Path, browser: httpx.AsyncClient
) -> None:
    down = bound_socket()  # bound, never listening: every connection to the IdP is refused
    configs = idp_configs_for(f"http://127.0.0.1:{down.getsockname()[1]}", tmp_path / "idps")
    browser.headers["Accept-Language"] = "en"
    for broker in start_broker(tmp_path, broker_keys, idp_configs=configs):
        await broker.add_client()
        auth = await start(portal_client(broker))
        assert (await browser.get(auth.url)).headers["location"] == "/login/role"
        for path, choice in (
            ("/login/role", "professional"),
            ("/login/route", "organisation"),
            ("/login/group", "yliopistosairaanhoitopiirit"),
        ):
            assert (await choose(browser, broker.url, path, choice)).status_code == 303
        assert_upstream_page(await choose(browser, broker.url, "/login/organisation", "hus"))
        # the transaction lives on: the person may pick another route; the broker serves on
        assert (await browser.get(broker.url + "/login/role")).status_code == 200
        discovery = await browser.get(broker.url + "/.well-known/openid-configuration")
        assert discovery.status_code == 200
    down.close()


async def test_a_slow_idp_holds_up_only_the_login_waiting_for_it(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    browser.headers["Accept-Language"] = "en"
    location = await walk_to_idp(browser, broker, (await start(portal_client(broker))).url)
    await world.fault("hus", "slow_token", seconds=4)  # longer than the broker's 2 s timeout
    waiting = asyncio.create_task(upstream_login(browser, location))
    async with httpx.AsyncClient(follow_redirects=False) as other:
        for _ in range(250):  # until the broker's token request is being held at the IdP
            if not (await other.get(world.idp_url + "/_faults")).json()["armed"]:
                break
            await asyncio.sleep(0.02)
        assert not (await other.get(world.idp_url + "/_faults")).json()["armed"]
        meanwhile = [
            await other.get(broker.url + "/.well-known/openid-configuration"),
            await other.get((await start(portal_client(broker))).url),
            await other.get(broker.url + "/jwks"),
        ]
    assert not waiting.done()  # answered while the slow login still waits
    assert [r.status_code for r in meanwhile] == [200, 303, 200]
    assert_upstream_page(await waiting)


@pytest.fixture
def smtp_down(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path
) -> Iterator[tuple[RunningBroker, int]]:
    """A broker whose SMTP server is down (its port refuses connections); and the port."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "timeout_seconds": 2}
    for broker in serve_journey(
        tmp_path, broker_keys, mock_idp_keys, required_registration=("hus",), smtp=smtp
    ):
        yield broker, port


MAIL = "maija.meikalainen@example.hus.fi"


async def test_smtp_down_during_registration_tells_the_person_and_saves_no_account(
    smtp_down: tuple[RunningBroker, int], browser: httpx.AsyncClient
) -> None:
    broker, smtp_port = smtp_down
    browser.headers["Accept-Language"] = "en"
    await broker.add_client()
    client = portal_client(broker)
    auth = await start(client)
    back = await upstream_login(
        browser, await walk_to_idp(browser, broker, auth.url), register=False
    )
    assert back.headers["location"] == "/account/register"
    form = await browser.get(broker.url + "/account/register")
    data = {
        **hidden_inputs(form.text),
        "phone": "050 000 0101",
        "email": MAIL,
        "partner": re.findall(r'name="partner" value="([^"]+)"', form.text),
        "eligible": "yes",
        "action": "continue",
    }
    refused = await browser.post(broker.url + "/account/register", data=data)
    assert refused.status_code == 400, refused.text  # the form again, with what was typed
    assert "The code could not be sent just now" in refused.text
    assert MAIL in refused.text
    assert not await broker.query("SELECT account_id FROM accounts")
    assert not await broker.query("SELECT account_id FROM account_links")

    sink = MailSink(port=smtp_port)  # the SMTP server is back: the same form goes through
    sink.start()
    try:
        again = await browser.post(
            broker.url + "/account/register", data={**data, **hidden_inputs(refused.text)}
        )
        assert again.status_code == 303 and again.headers["location"] == "/account/confirm"
        confirm = await browser.get(broker.url + "/account/confirm")
        code = re.findall(r"\b\d{6}\b", sink.wait_for(MAIL)[-1].text)[0]
        done = await browser.post(
            broker.url + "/account/confirm",
            data={**hidden_inputs(confirm.text), "code": code, "action": "confirm"},
        )
    finally:
        sink.stop()
    assert done.status_code == 303, done.text
    await redeem(client, auth, callback_params(done.headers["location"])["code"])
    assert len(await broker.query("SELECT account_id FROM accounts")) == 1
