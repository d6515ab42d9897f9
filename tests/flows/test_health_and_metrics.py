"""Liveness, readiness and /metrics through a running broker: readiness fails for real (a closed
store, an IdP's expired SAML metadata), and a real login moves the counters."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from broker.app import create_app
from broker.clock import FrozenClock
from tests.brokers import RunningBroker, make_settings, start_broker
from tests.login_walk import upstream_login, walk_to_idp
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.servers import bound_socket
from tests.worlds import JourneyWorld, SAMLWorld, serve_journey

METRICS_ON = {"metrics": {"enabled": True}}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the exposition text (0 if it is not there)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def store_operations(text: str) -> dict[str, float]:
    """How many times each store operation was timed."""
    return {
        found.labels["operation"]: found.value
        for family in text_string_to_metric_families(text)
        for found in family.samples
        if found.name == "sote_broker_store_seconds_count"
    }


async def scrape(broker: RunningBroker) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(broker.url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
def metered(tmp_path: Path, broker_keys: Path, mock_idp_keys: Path) -> Iterator[JourneyWorld]:
    for running in serve_journey(tmp_path, broker_keys, mock_idp_keys, **METRICS_ON):
        yield JourneyWorld(running, running.idp_url)


# -- liveness and readiness ---------------------------------------------------------------


async def test_live_and_ready_answer_200_when_all_is_well(broker: RunningBroker) -> None:
    async with httpx.AsyncClient() as http:
        live = await http.get(broker.url + "/health/live")
        ready = await http.get(broker.url + "/health/ready")
        old = await http.get(broker.url + "/healthz")
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert body["checks"]["store"] == "ok"
    assert body["checks"]["signing_keys"] == "ok"
    assert body["checks"]["idp:hus"] == "ok"
    assert ready.headers["cache-control"] == "no-store"
    assert old.status_code == 200  # the old endpoint stays


@dataclass
class InLoopBroker:
    """A broker served by uvicorn in the test's own event loop, so the test can reach into the
    running app (here: close its store as a failed database would leave it)."""

    url: str
    app: Starlette


@pytest.fixture
async def in_loop_broker(tmp_path: Path, broker_keys: Path) -> AsyncIterator[InLoopBroker]:
    sock = bound_socket()
    shutil.copytree(broker_keys, tmp_path / "keys")
    settings = make_settings(tmp_path, sock.getsockname()[1])
    app = create_app(settings, clock=FrozenClock(time.time()))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "broker did not start"
        await asyncio.sleep(0.02)
    try:
        yield InLoopBroker(settings.issuer, app)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_ready_answers_503_naming_the_store_when_the_store_is_closed(
    in_loop_broker: InLoopBroker,
) -> None:
    url = in_loop_broker.url
    async with httpx.AsyncClient() as http:
        assert (await http.get(url + "/health/ready")).status_code == 200
        await in_loop_broker.app.state.broker.provider.store.close()
        ready = await http.get(url + "/health/ready")
        live = await http.get(url + "/health/live")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["store"]
    assert body["checks"] == {"store": "failing", "signing_keys": "ok"}
    assert "not open" not in ready.text  # the exception's text stays out
    assert live.status_code == 200  # alive: restarting would not help the database


async def ready_now(http: httpx.AsyncClient, broker: RunningBroker) -> httpx.Response:
    """/health/ready once the SAML metadata loaded in the background. The mock Suomi.fi starts
    after the broker (it reads the broker's SP metadata), so the broker's first fetch at
    start-up failed: until the retry 60 s on the broker is not ready."""
    broker.clock.advance(61)
    for _ in range(250):
        ready = await http.get(broker.url + "/health/ready")
        if set(ready.json()["checks"].values()) == {"ok"}:
            return ready
        await asyncio.sleep(0.02)
    return ready


async def test_ready_answers_503_naming_the_idp_whose_saml_metadata_expired(
    saml_world: SAMLWorld,
) -> None:
    broker = saml_world.broker
    async with httpx.AsyncClient() as http:
        ready = await ready_now(http, broker)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["idp:suomifi"] == "ok"
        # the mock's metadata says validUntil a day on; two days later it is expired, and a
        # fresh copy (validUntil a day from the mock's clock) is refused as expired too
        broker.clock.advance(2 * 86400)
        await asyncio.sleep(0.3)  # the background refresh tries again (and is refused)
        expired = await http.get(broker.url + "/health/ready")
    assert expired.status_code == 503, expired.text
    body = expired.json()
    assert body["failing"] == ["idp:suomifi"]
    assert body["checks"]["idp:suomifi"] == "metadata_missing_or_expired"
    assert body["checks"]["store"] == "ok"


@pytest.mark.parametrize(
    "broker_overrides", [{"health": {"idps_decide_readiness": False}, **METRICS_ON}]
)
async def test_with_idps_not_deciding_readiness_the_expired_idp_is_named_and_gauged(
    saml_world: SAMLWorld,
) -> None:
    broker = saml_world.broker
    async with httpx.AsyncClient() as http:
        assert (await ready_now(http, broker)).status_code == 200
        assert sample(await scrape(broker), "sote_broker_idp_usable", idp="suomifi") == 1
        broker.clock.advance(2 * 86400)
        await asyncio.sleep(0.3)
        ready = await http.get(broker.url + "/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["idp:suomifi"] == "metadata_missing_or_expired"
    assert ready.json()["failing"] == []
    assert sample(await scrape(broker), "sote_broker_idp_usable", idp="suomifi") == 0


# -- metrics ---------------------------------------------------------------------------------


async def test_a_login_and_its_token_request_move_the_counters(
    metered: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = metered.broker
    await broker.add_client()
    client = portal_client(broker)
    auth = await start(client)
    back = await upstream_login(browser, await walk_to_idp(browser, broker, auth.url))
    assert back.status_code == 303, back.text
    code = callback_params(back.headers["location"])["code"]
    await redeem(client, auth, code)
    async with httpx.AsyncClient() as http:  # the same code again: invalid_grant
        again = await http.post(
            broker.url + "/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": auth.url},
            auth=("portal", broker.secrets["portal"]),
        )
        odd = await http.post(
            broker.url + "/token",
            data={"grant_type": "urn:made-up:maija.meikalainen"},
            auth=("portal", broker.secrets["portal"]),
        )
    assert again.json()["error"] == "invalid_grant"
    assert odd.json()["error"] == "unsupported_grant_type"

    text = await scrape(broker)
    org = {"route": "organisation", "idp": "hus"}
    assert sample(text, "sote_broker_logins_started_total", **org) == 1
    assert sample(text, "sote_broker_logins_completed_total", **org) == 1
    assert sample(text, "sote_broker_upstream_seconds_count", idp="hus", step="finish") == 1
    tokens = "sote_broker_token_requests_total"
    assert sample(text, tokens, grant_type="authorization_code", result="ok") == 1
    assert sample(text, tokens, grant_type="authorization_code", result="invalid_grant") == 1
    assert sample(text, tokens, grant_type="other", result="unsupported_grant_type") == 1
    timed = store_operations(text)  # by method name, whatever the store's shape
    assert sum(timed.values()) >= 10
    assert any(name.startswith("accounts.") for name in timed)
    # nothing a person or a client typed is a label value
    assert "maija" not in text.lower()
    assert "made-up" not in text


async def test_a_failed_login_is_counted_by_idp_and_the_errors_class(
    metered: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = metered.broker
    await broker.add_client()
    auth = await start(portal_client(broker))
    location = await walk_to_idp(browser, broker, auth.url)
    await metered.fault("hus", "wrong_issuer")
    back = await upstream_login(browser, location)
    assert back.status_code == 502
    text = await scrape(broker)
    failed = "sote_broker_logins_failed_total"
    assert sample(text, failed, route="organisation", idp="hus", reason="invalid_response") == 1
    assert sample(text, "sote_broker_logins_completed_total", idp="hus") == 0


@pytest.fixture
def limited(tmp_path: Path, broker_keys: Path) -> Iterator[RunningBroker]:
    yield from start_broker(
        tmp_path, broker_keys, limits={"token_per_ip": {"hits": 1, "seconds": 60}}, **METRICS_ON
    )


async def test_rate_limit_refusals_are_counted_by_rule(limited: RunningBroker) -> None:
    async with httpx.AsyncClient() as http:
        statuses = [
            (await http.post(limited.url + "/token", data={"grant_type": "x"})).status_code
            for _ in range(3)
        ]
    assert statuses[1:] == [429, 429]
    text = await scrape(limited)
    assert sample(text, "sote_broker_rate_limited_total", rule="token_ip") == 2


async def test_metrics_are_not_served_unless_enabled(broker: RunningBroker) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(broker.url + "/metrics")
    assert response.status_code == 404
    assert "sote_broker" not in response.text


@pytest.fixture
def elsewhere(tmp_path: Path, broker_keys: Path) -> Iterator[RunningBroker]:
    """Metrics on, but only for a network the tests' 127.0.0.1 is not in."""
    metrics = {"enabled": True, "allowed_networks": ["10.0.0.0/8", "::1/128"]}
    yield from start_broker(tmp_path, broker_keys, metrics=metrics)


async def test_metrics_are_refused_to_an_address_outside_the_allowed_networks(
    elsewhere: RunningBroker,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(elsewhere.url + "/metrics")
    assert response.status_code == 404
    assert "sote_broker" not in response.text
