"""Disruption notices through real HTTP: set by the CLI or the settings file, shown on the choice
and error pages of every broker process on the store, at /notices.json for portals; offline
organisations; the automatic notice of an IdP whose logins fail, cleared when they succeed."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from tests.brokers import RunningBroker, start_broker
from tests.flows.test_logs_and_cli import cli
from tests.login_walk import choose, upstream_login
from tests.portal_client import callback_params, portal_client, start
from tests.worlds import JourneyWorld, serve_journey

CACHE_SECONDS = 5
WATCH = {"window_seconds": 300, "min_failures": 2, "failure_ratio": 0.6}
CONFIGURED = {
    "id": "pirha-maintenance",
    "scope": "organisation",
    "target": "pirha",
    "texts": {
        "fi": "PIRHA: huoltokatko",
        "sv": "PIRHA: serviceavbrott",
        "en": "PIRHA: maintenance",
    },
}
TEXTS = {
    "fi": "Varmennekortit näkyvät virheellisesti",
    "sv": "Kort visas fel",
    "en": "Cards shown wrong",
}
HUS_NAME = "HUS \u2013 Helsingin ja Uudenmaan sairaanhoitopiiri"


@pytest.fixture
def world(tmp_path: Path, broker_keys: Path, mock_idp_keys: Path) -> Iterator[JourneyWorld]:
    notices = {"cache_seconds": CACHE_SECONDS, "watch": WATCH, "configured": [CONFIGURED]}
    for running in serve_journey(tmp_path, broker_keys, mock_idp_keys, notices=notices):
        yield JourneyWorld(running, running.idp_url)


@pytest.fixture
def config(world: JourneyWorld, tmp_path: Path) -> Path:
    """The running broker's settings as a file, for the CLI (the same store)."""
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(world.broker.settings.model_dump(mode="json")))
    return path


async def set_notice(config: Path, broker: RunningBroker, *args: str, **texts: str) -> str:
    """`sote-broker notices add` (starting at the broker's now); then the broker's clock moves
    past its notice cache. Returns the notice's id."""
    start = datetime.fromtimestamp(broker.clock.now(), UTC).isoformat()
    given = {**TEXTS, **texts}
    texts_args = [a for lang in ("fi", "sv", "en") for a in (f"--{lang}", given[lang])]
    added = await run_cli(config, "notices", "add", "--start", start, *args, *texts_args)
    out = added.stdout
    broker.clock.advance(CACHE_SECONDS + 1)
    return out.strip()


async def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in this process, off the event loop (it runs one of its own)."""
    return await asyncio.to_thread(cli, config, *args)


def notices_of(html: str) -> list[tuple[str, str, str]]:
    """(role, heading, text) of each notice region on a page."""
    found = re.findall(
        r'<section class="notice[^"]*disruption-notice"\s+role="(\w+)"[^>]*>\s*'
        r"<h2[^>]*>([^<]*)</h2>\s*<p>([^<]*)</p>",
        html,
    )
    return [(role, heading, text) for role, heading, text in found]


async def at_role_page(browser: httpx.AsyncClient, broker: RunningBroker) -> None:
    auth = await start(portal_client(broker))
    first = await browser.get(auth.url)
    assert first.headers["location"] == "/login/role"


async def test_a_cli_notice_shows_on_every_process_on_the_next_page_load(
    world: JourneyWorld,
    config: Path,
    browser: httpx.AsyncClient,
    tmp_path: Path,
    broker_keys: Path,
) -> None:
    broker = world.broker
    await broker.add_client()
    await at_role_page(browser, broker)
    assert notices_of((await browser.get(broker.url + "/login/role")).text) == []

    await set_notice(config, broker, "--severity", "severe")
    page = await browser.get(broker.url + "/login/role")
    assert notices_of(page.text) == [("alert", "Häiriötiedote", TEXTS["fi"])]
    swedish = await browser.get(broker.url + "/login/role", headers={"Accept-Language": "sv"})
    assert notices_of(swedish.text) == [("alert", "Störningsmeddelande", TEXTS["sv"])]

    # another broker process on the same store, started before nothing: sees it as well
    settings = broker.settings
    for other in start_broker(
        tmp_path / "other",
        broker_keys,
        idp_configs=settings.idp_configs,
        store={"sqlite_path": settings.store.sqlite_path},
        notices={"cache_seconds": CACHE_SECONDS},
    ):
        async with httpx.AsyncClient() as elsewhere:
            listed = (await elsewhere.get(other.url + "/notices.json")).json()["notices"]
            assert [n["text"]["en"] for n in listed] == [TEXTS["en"]]
            # and on an error page (no login transaction in this browser)
            error = await elsewhere.get(
                other.url + "/login/role", headers={"Accept-Language": "en"}
            )
            assert error.status_code == 400
            assert notices_of(error.text) == [("alert", "Disruption notice", TEXTS["en"])]


async def test_an_organisations_notice_shows_only_where_it_is_offered(
    world: JourneyWorld, config: Path, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    await set_notice(config, broker, "--scope", "organisation", "--target", "hus")
    await at_role_page(browser, broker)
    seen = {}
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", "hyvinvointialueet"),
    ):
        page = await browser.get(broker.url + path)
        seen[path] = notices_of(page.text)
        assert (await choose(browser, broker.url, path, choice)).status_code == 303
    seen["other group"] = notices_of((await browser.get(broker.url + "/login/organisation")).text)
    assert all(found == [] for found in seen.values()), seen

    await browser.get(broker.url + "/login/group")
    assert (
        await choose(browser, broker.url, "/login/group", "yliopistosairaanhoitopiirit")
    ).status_code == 303
    page = await browser.get(broker.url + "/login/organisation")
    assert notices_of(page.text) == [
        ("status", "Tiedote", CONFIGURED["texts"]["fi"]),  # the settings file's, on PIRHA
        ("status", "Tiedote", TEXTS["fi"]),
    ]
    assert 'value="hus"' in page.text  # a notice alone does not take it offline


async def test_an_offline_organisation_cannot_be_chosen_nor_hinted(
    world: JourneyWorld, config: Path, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    offline = {"fi": "HUS ei ole käytössä", "sv": "HUS är ur bruk", "en": "HUS is offline"}
    args = ("--scope", "organisation", "--target", "hus", "--severity", "severe", "--offline")
    await set_notice(config, broker, *args, **offline)
    await at_role_page(browser, broker)
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", "yliopistosairaanhoitopiirit"),
    ):
        assert (await choose(browser, broker.url, path, choice)).status_code == 303
    page = await browser.get(broker.url + "/login/organisation")
    assert 'value="hus"' not in page.text
    assert 'data-unavailable="hus"' in page.text
    assert ("alert", "Häiriötiedote", offline["fi"]) in notices_of(page.text)

    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    chosen = await browser.post(broker.url + "/login/organisation", data={**form, "choice": "hus"})
    assert chosen.status_code == 503
    assert ("alert", "Häiriötiedote", offline["fi"]) in notices_of(chosen.text)

    auth = await start(portal_client(broker), idp_hint="hus")
    hinted = await browser.get(auth.url)
    assert hinted.status_code == 303
    params = callback_params(hinted.headers["location"])
    assert params["error"] == "temporarily_unavailable"
    assert params["state"] == auth.state
    assert params["iss"] == broker.settings.issuer


async def test_notices_json_holds_only_current_notices_until_their_end(
    world: JourneyWorld, config: Path
) -> None:
    broker = world.broker
    ending = await set_notice(
        config, broker, "--scope", "route", "--target", "organisation", "--minutes", "10"
    )
    later = datetime.fromtimestamp(broker.clock.now() + 3600, UTC).isoformat()
    await run_cli(config, "notices", "add", "--start", later, *_texts())  # scheduled: not yet
    ended = await set_notice(config, broker)
    await run_cli(config, "notices", "end", ended)
    broker.clock.advance(CACHE_SECONDS + 1)
    async with httpx.AsyncClient() as portal:
        answer = await portal.get(broker.url + "/notices.json")
        assert answer.headers["access-control-allow-origin"] == "*"
        listed = answer.json()["notices"]
        assert [n["id"] for n in listed] == ["config:pirha-maintenance", ending]
        assert listed[1] == {
            "id": ending,
            "scope": "route",
            "target": "organisation",
            "severity": "info",
            "offline": False,
            "text": TEXTS,
            "starts_at": listed[1]["starts_at"],
            "ends_at": listed[1]["ends_at"],
        }
        starts = datetime.fromisoformat(listed[1]["starts_at"])
        ends = datetime.fromisoformat(listed[1]["ends_at"])
        assert (ends - starts).total_seconds() == 600
        broker.clock.advance(ends.timestamp() - broker.clock.now() - 2)
        assert len(await _listed(broker)) == 2  # read again, two seconds before its end
        broker.clock.advance(3)  # past its end (times are in whole seconds), within the cache
        assert await _listed(broker) == ["config:pirha-maintenance"]


def _texts() -> list[str]:
    return [a for lang in ("fi", "sv", "en") for a in (f"--{lang}", TEXTS[lang])]


async def test_failing_logins_raise_an_automatic_notice_that_recovery_clears(
    world: JourneyWorld, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    broker = world.broker
    await broker.add_client()
    caplog.set_level(logging.INFO, logger="broker.notices.watcher")
    automatic = (
        f"Kirjautumisessa organisaatioon {HUS_NAME} on häiriöitä. Kirjaudu henkilökohtaisella "
        "tunnistautumisella (Suomi.fi) tai yritä myöhemmin uudelleen."
    )
    await world.fault("hus", "token_garbage", count=2)
    first = await _login(browser, broker)
    assert first.status_code == 502
    assert notices_of(first.text) == []  # one failure is no disturbance
    second = await _login(browser, broker)
    assert second.status_code == 502
    assert notices_of(second.text) == [("alert", "Häiriötiedote", automatic)]
    watcher = [r for r in caplog.records if r.name == "broker.notices.watcher"]
    assert [(r.levelno, r.getMessage().split(":")[0]) for r in watcher] == [
        (logging.WARNING, "IdP hus disturbed")
    ]
    org_page = await browser.get(broker.url + "/login/organisation")
    assert ("alert", "Häiriötiedote", automatic) in notices_of(org_page.text)
    assert 'value="hus"' in org_page.text  # still offered: the person may try

    assert (await _login(browser, broker)).status_code == 303  # 2 of 3 failed: still raised
    assert await _listed(broker) == ["auto:hus", "config:pirha-maintenance"]
    assert (await _login(browser, broker)).status_code == 303  # 2 of 4: recovered
    assert await _listed(broker) == ["config:pirha-maintenance"]
    watcher = [r for r in caplog.records if r.name == "broker.notices.watcher"]
    assert (
        watcher[-1].levelno,
        watcher[-1].getMessage(),
    ) == (logging.INFO, "IdP hus recovered; automatic notice ended")
    assert len(watcher) == 2


async def _listed(broker: RunningBroker) -> list[str]:
    async with httpx.AsyncClient() as portal:
        listed = (await portal.get(broker.url + "/notices.json")).json()["notices"]
    return [n["id"] for n in listed]


async def _login(browser: httpx.AsyncClient, broker: RunningBroker) -> httpx.Response:
    """A whole login at HUS from the portal; the broker's last answer (to the portal, or an
    error page); prompt=login, so the broker's SSO session does not answer instead of HUS."""
    auth = await start(portal_client(broker), prompt="login")
    assert (await browser.get(auth.url)).headers["location"] == "/login/role"
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", "yliopistosairaanhoitopiirit"),
        ("/login/organisation", "hus"),
    ):
        answer = await choose(browser, broker.url, path, choice)
        assert answer.status_code == 303, answer.text
    return await upstream_login(browser, answer.headers["location"])
