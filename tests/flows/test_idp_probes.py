"""Automatic notices from the background probe, through real HTTP: the mock organisation OIDC IdP
stopped (unreachable) gives its organisations the automatic notice on the organisation page and
in /notices.json, and the gauge sote_broker_idp_disturbed 1 at /metrics; started again on the
same port, the notice ends and the gauge is 0. The IdP watcher's notice (failing logins) is the
same gauge with source="watcher"."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.brokers import RunningBroker, start_broker
from tests.flows.test_notices import WATCH
from tests.flows.test_notices import _login as notices_login
from tests.login_walk import choose
from tests.portal_client import portal_client, start
from tests.servers import bound_socket, serve
from tests.worlds import JourneyWorld, SAMLWorld, idp_configs_for, serve_journey

HUS_TEXT_FI = "Kirjautumisessa organisaatioon HUS \u2013 Helsingin ja Uudenmaan sairaanhoitopiiri"
PROBES = {"probe": {"enabled": True, "interval_seconds": 0.1}}


@dataclass
class ProbeWorld:
    broker: RunningBroker
    idp_port: int
    stack: contextlib.ExitStack
    mock_idp_keys: Path

    def start_idp(self) -> None:
        """The mock IdP on its port (again): a socket of its own bound to the same port."""
        from mock_idps.oidc_idp import create_app as create_mock_idp

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.idp_port))
        base = f"http://127.0.0.1:{self.idp_port}"
        self.stack.enter_context(serve(create_mock_idp(base, key_dir=self.mock_idp_keys), sock))

    def stop_idp(self) -> None:
        self.stack.close()


@pytest.fixture
def probe_world(tmp_path: Path, broker_keys: Path, mock_idp_keys: Path) -> Iterator[ProbeWorld]:
    idp_sock = bound_socket()
    port = idp_sock.getsockname()[1]
    idp_sock.close()
    configs = idp_configs_for(f"http://127.0.0.1:{port}", tmp_path / "idp_configs")
    with contextlib.ExitStack() as stack:
        world_stack = contextlib.ExitStack()
        stack.callback(world_stack.close)
        world = ProbeWorld(None, port, world_stack, mock_idp_keys)  # type: ignore[arg-type]
        world.start_idp()
        for running in start_broker(
            tmp_path,
            broker_keys,
            idp_configs=configs,
            idps=PROBES,
            notices={"cache_seconds": 0},
            metrics={"enabled": True},
        ):
            world.broker = running
            yield world


async def wait_until(condition: object, seconds: float = 20.0) -> None:
    """Poll `condition` (an async callable) until it is true; the probe runs every 0.1 s."""
    for _ in range(int(seconds / 0.1)):
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def notices_json(broker: RunningBroker) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(broker.url + "/notices.json")
    assert response.status_code == 200
    return list(response.json()["notices"])


async def hus_notice(broker: RunningBroker) -> dict[str, Any] | None:
    return next((n for n in await notices_json(broker) if n["target"] == "hus"), None)


async def disturbed_gauge(broker: RunningBroker) -> str | None:
    async with httpx.AsyncClient() as http:
        text = (await http.get(broker.url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith('sote_broker_idp_disturbed{idp="hus",source="probe"}'):
            return line.rsplit(" ", 1)[1]
    return None


async def organisation_page(broker: RunningBroker) -> str:
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        auth = await start(portal_client(broker))
        assert (await browser.get(auth.url)).status_code == 303
        for path, choice in (
            ("/login/role", "professional"),
            ("/login/route", "organisation"),
            ("/login/group", "yliopistosairaanhoitopiirit"),
        ):
            assert (await choose(browser, broker.url, path, choice)).status_code == 303
        page = await browser.get(broker.url + "/login/organisation")
        assert page.status_code == 200
        return page.text


async def test_an_unreachable_idp_gets_the_automatic_notice_until_it_answers_again(
    probe_world: ProbeWorld,
) -> None:
    broker = probe_world.broker
    await broker.add_client()
    assert await hus_notice(broker) is None

    probe_world.stop_idp()
    await wait_until(lambda: _has_hus_notice(broker))

    notice = await hus_notice(broker)
    assert notice is not None
    assert notice["severity"] == "severe"
    assert notice["scope"] == "organisation"
    assert str(notice["text"]["fi"]).startswith(HUS_TEXT_FI)
    assert HUS_TEXT_FI in await organisation_page(broker)
    assert await disturbed_gauge(broker) == "1.0"

    probe_world.start_idp()
    await wait_until(lambda: _no_hus_notice(broker))

    assert HUS_TEXT_FI not in await organisation_page(broker)
    assert await disturbed_gauge(broker) == "0.0"
    rows = await broker.query(
        "SELECT source, ends_at FROM notices WHERE notice_id = ?", ("auto-probe:hus",)
    )
    assert [r["source"] for r in rows] == ["automatic"]
    assert rows[0]["ends_at"] is not None


async def _has_hus_notice(broker: RunningBroker) -> bool:
    return await hus_notice(broker) is not None


async def _no_hus_notice(broker: RunningBroker) -> bool:
    return await hus_notice(broker) is None


@pytest.fixture
def watched_world(tmp_path: Path, broker_keys: Path, mock_idp_keys: Path) -> Iterator[JourneyWorld]:
    notices = {"cache_seconds": 0, "watch": WATCH}
    for running in serve_journey(
        tmp_path, broker_keys, mock_idp_keys, notices=notices, metrics={"enabled": True}
    ):
        yield JourneyWorld(running, running.idp_url)


async def watcher_gauge(broker: RunningBroker) -> str | None:
    async with httpx.AsyncClient() as http:
        text = (await http.get(broker.url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith('sote_broker_idp_disturbed{idp="hus",source="watcher"}'):
            return line.rsplit(" ", 1)[1]
    return None


async def test_the_watchers_notice_is_the_disturbed_gauge_at_metrics(
    watched_world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = watched_world.broker
    await broker.add_client()
    await watched_world.fault("hus", "token_garbage", count=2)
    assert (await notices_login(browser, broker)).status_code == 502
    assert await watcher_gauge(broker) is None  # one failure: nothing raised yet
    assert (await notices_login(browser, broker)).status_code == 502
    assert await watcher_gauge(broker) == "1.0"
    assert (await notices_login(browser, broker)).status_code == 303
    assert (await notices_login(browser, broker)).status_code == 303  # 2 of 4: recovered
    assert await watcher_gauge(broker) == "0.0"


@pytest.fixture
def broker_overrides() -> dict[str, Any]:
    """`saml_world`'s broker probes its IdPs (the mock Suomi.fi's metadata is valid a day)."""
    return {"idps": PROBES, "notices": {"cache_seconds": 0}}


async def test_metadata_expiring_within_the_threshold_gets_an_info_notice(
    saml_world: SAMLWorld,
) -> None:
    broker = saml_world.broker

    async def suomifi_notice() -> dict[str, Any] | None:
        found = await notices_json(broker)
        return next((n for n in found if n["target"] == "suomifi"), None)

    async def raised() -> bool:
        """Info once the mock answers (it starts after the broker: severe until then)."""
        notice = await suomifi_notice()
        return notice is not None and notice["severity"] == "info"

    await wait_until(raised)
    notice = await suomifi_notice()
    assert notice is not None
    assert (notice["id"], notice["severity"]) == ("auto-probe:suomifi", "info")
    assert notice["text"]["en"] == (
        "Logging in with Suomi.fi e-Identification may stop working soon: its identification "
        "settings are about to expire. If logging in fails, use personal identification "
        "(Suomi.fi) or try again later."
    )
