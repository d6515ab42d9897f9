"""Deleting an account (the account page) or erasing it (`sote-broker accounts erase`) ends
every SSO session of the account, in every browser, revokes its grants and tells its portals by
back-channel logout."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from tests.flows.conftest import LogoutReceiver, wait_for
from tests.flows.test_logs_and_cli import cli
from tests.jwt_tools import jwt_parts
from tests.login_walk import choose_organisation, hidden_inputs, log_in, upstream_login
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld

PORTALS = ("portal", "second")


@dataclass
class Browser:
    """One browser's login to both portals: its cookies, its SSO session id, its tokens."""

    http: httpx.AsyncClient
    sid: str
    tokens: dict[str, Any]


async def logged_in_to_both(world: JourneyWorld, http: httpx.AsyncClient) -> Browser:
    tokens: dict[str, Any] = {}
    for client_id in PORTALS:
        client = portal_client(world.broker, client_id)
        auth = await start(client)
        back = await log_in(http, world.broker, auth.url)  # the second portal: by SSO
        tokens = tokens or await redeem(
            client, auth, callback_params(back.headers["location"])["code"]
        )
    return Browser(http, jwt_parts(tokens["id_token"])[1]["sid"], tokens)


@contextlib.asynccontextmanager
async def two_browsers(
    world: JourneyWorld, receiver: LogoutReceiver
) -> AsyncIterator[tuple[Browser, Browser]]:
    """The same person logged in to both portals on two devices (two sessions of one account)."""
    for client_id in PORTALS:
        await world.broker.add_client(client_id, backchannel_logout_uri=receiver.url)
    async with (
        httpx.AsyncClient(follow_redirects=False, timeout=10) as one,
        httpx.AsyncClient(follow_redirects=False, timeout=10) as other,
    ):
        first, second = await logged_in_to_both(world, one), await logged_in_to_both(world, other)
        assert first.sid != second.sid
        with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
            assert db.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
        yield first, second


async def assert_all_sessions_gone(
    world: JourneyWorld, receiver: LogoutReceiver, browsers: tuple[Browser, ...]
) -> None:
    broker = world.broker
    for browser in browsers:
        again = await browser.http.get((await start(portal_client(broker))).url)
        assert again.status_code == 303 and again.headers["location"] == "/login/role"
        refresh = await browser.http.post(
            broker.url + "/token",
            data={"grant_type": "refresh_token", "refresh_token": browser.tokens["refresh_token"]},
            auth=("portal", broker.secrets["portal"]),
        )
        assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
        userinfo = await browser.http.get(
            broker.url + "/userinfo",
            headers={"Authorization": f"Bearer {browser.tokens['access_token']}"},
        )
        assert userinfo.status_code == 401
    await wait_for(lambda: len(receiver.tokens) == 2 * len(browsers))
    told = {(jwt_parts(t)[1]["aud"], jwt_parts(t)[1]["sid"]) for t in receiver.tokens}
    assert told == {(portal, b.sid) for portal in PORTALS for b in browsers}


async def test_deleting_on_one_device_ends_the_sessions_on_every_device(
    world: JourneyWorld, receiver: LogoutReceiver
) -> None:
    async with two_browsers(world, receiver) as (first, second):
        delete_url = world.broker.url + "/account/delete"
        confirm = await first.http.get(delete_url)
        gone = await first.http.post(
            delete_url, data={**hidden_inputs(confirm.text), "confirm": "yes"}
        )
        assert gone.status_code == 200 and "Tili on poistettu" in gone.text
        await assert_all_sessions_gone(world, receiver, (first, second))


async def test_an_erase_by_the_operator_ends_every_session_of_the_account(
    world: JourneyWorld, receiver: LogoutReceiver, tmp_path: Path
) -> None:
    settings = world.broker.settings
    config = tmp_path / "operator.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mode": "development",
                "issuer": settings.issuer,
                "store": {"sqlite_path": str(settings.store.sqlite_path)},
                "subject_key_file": str(settings.subject_key_file),
            }
        )
    )
    async with two_browsers(world, receiver) as (first, second):
        with sqlite3.connect(settings.store.sqlite_path) as db:
            (account_id,) = db.execute("SELECT account_id FROM accounts").fetchone()
        erase = ("accounts", "erase", "--account-id", account_id, "--yes")
        erased = (await asyncio.to_thread(cli, config, *erase)).stdout  # its own event loop
        assert "2 SSO session(s) ended" in erased
        # the CLI queued the logouts at the real time; the broker's frozen clock catches up
        world.broker.clock.advance(time.time() - world.broker.clock.now() + 1)
        await assert_all_sessions_gone(world, receiver, (first, second))


async def test_deleting_after_an_older_login_needs_a_fresh_one_first(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """A session left open (a shared computer) or a stolen cookie does not delete the account:
    past `accounts.delete_login_max_age` (300 s) the person logs in again, at the IdP itself
    (prompt=login), and comes back to the confirmation."""
    broker = world.broker
    await broker.add_client()
    assert broker.settings.accounts.delete_login_max_age == 300
    back = await log_in(browser, broker, (await start(portal_client(broker))).url)
    assert back.status_code == 303
    delete_url = broker.url + "/account/delete"
    broker.clock.advance(290)  # (the IdP's auth_time is in whole seconds)
    world.idp_clock.offset = 290
    left_open = await browser.get(delete_url)
    assert left_open.status_code == 200 and "Haluatko varmasti poistaa tilisi?" in left_open.text
    broker.clock.advance(11)
    world.idp_clock.offset = 301
    # The page left open is posted: not deleted, a fresh login first.
    posted = await browser.post(
        delete_url, data={**hidden_inputs(left_open.text), "confirm": "yes"}
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/login/role"
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
    shown = await browser.get(delete_url)
    assert shown.status_code == 303 and shown.headers["location"] == "/login/role"
    # The IdP is asked to authenticate again, though its own session is still alive.
    to_idp = await choose_organisation(browser, broker)
    assert parse_qs(urlsplit(to_idp).query)["prompt"] == ["login"]
    assert 'name="password"' in (await browser.get(to_idp)).text
    again = await upstream_login(browser, to_idp)
    assert again.status_code == 303 and again.headers["location"] == "/account/delete"
    confirm = await browser.get(delete_url)
    assert confirm.status_code == 200 and "Haluatko varmasti poistaa tilisi?" in confirm.text
    gone = await browser.post(delete_url, data={**hidden_inputs(confirm.text), "confirm": "yes"})
    assert gone.status_code == 200 and "Tili on poistettu" in gone.text
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
