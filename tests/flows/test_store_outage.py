"""The store going away under a running broker, for real: the PostgreSQL server stopped and
started again while requests run. Requests in the outage get a clean 503 (OAuth error JSON
`temporarily_unavailable` to portals, a page to people) within the store's timeout, never a
500 or a traceback; the broker recovers by itself (asyncpg's pool reconnects)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.brokers import RunningBroker, start_broker
from tests.portal_client import code_form, portal_client, start
from tests.postgres import PostgresServer
from tests.worlds import idp_configs_for

STORE_TIMEOUT = 2
CLIENT_TIMEOUT = 3 * STORE_TIMEOUT  # an answer later than this would be a hang


@pytest.fixture
def pg_broker(
    tmp_path: Path, broker_keys: Path, postgres: PostgresServer
) -> Iterator[RunningBroker]:
    store = {"backend": "postgresql", "dsn": postgres.new_database(), "timeout_seconds": 2}
    configs = idp_configs_for("http://127.0.0.1:9", tmp_path / "idp_configs")  # IdPs not asked
    yield from start_broker(tmp_path, broker_keys, store=store, idp_configs=configs)


def assert_clean(response: httpx.Response, healthy: int) -> None:
    """The answer it gives when the store is up, or a clean 503."""
    assert "Traceback" not in response.text
    if response.status_code == healthy:
        return
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["error"] == "temporarily_unavailable"
    else:
        assert "Virhetunnus" in response.text  # the error page, with its error id


async def token_request(http: httpx.AsyncClient, broker: RunningBroker) -> httpx.Response:
    return await http.post(
        broker.url + "/token",
        data=code_form("made-up-code", "v" * 43),
        auth=("portal", broker.secrets["portal"]),
    )


async def recovered(http: httpx.AsyncClient, broker: RunningBroker, seen: list[int]) -> None:
    """The broker answers from the store again by itself (the pool reconnects; nobody restarts
    the broker), and the load goes on."""
    before = len(seen)
    for _ in range(300):
        if (await token_request(http, broker)).status_code == 400:
            break
        await asyncio.sleep(0.02)
    assert (await token_request(http, broker)).status_code == 400
    assert (await http.get((await start(portal_client(broker))).url)).status_code == 303
    for _ in range(500):
        if seen[before:].count(400) >= 3:
            break
        await asyncio.sleep(0.02)
    assert seen[before:].count(400) >= 3


async def test_a_postgresql_restart_under_load_gives_503s_then_the_broker_recovers(
    pg_broker: RunningBroker, postgres: PostgresServer
) -> None:
    broker = pg_broker
    await broker.add_client()
    authorize = (await start(portal_client(broker))).url
    seen: list[int] = []
    served = asyncio.Event()  # the load has had an answer from a healthy store

    async def load(http: httpx.AsyncClient) -> None:
        while True:
            for response, healthy in (
                (await token_request(http, broker), 400),
                (await http.get(authorize), 303),
                (
                    await http.get(broker.url + "/userinfo", headers={"Authorization": "Bearer x"}),
                    401,
                ),
            ):
                assert_clean(response, healthy)
                seen.append(response.status_code)
                served.set()

    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        workers = [asyncio.create_task(load(http)) for _ in range(3)]
        try:
            await asyncio.wait_for(served.wait(), CLIENT_TIMEOUT)
            await asyncio.to_thread(postgres.halt)
            try:
                during = [await token_request(http, broker), await http.get(authorize)]
            finally:
                await asyncio.to_thread(postgres.resume)
            for response, healthy in zip(during, (400, 303), strict=True):
                assert response.status_code == 503
                assert_clean(response, healthy)
            await recovered(http, broker, seen)
            await asyncio.to_thread(postgres.restart)  # and a restart without a pause
            await recovered(http, broker, seen)
            for task in workers:  # no load request failed uncleanly (its error, if one did)
                assert not task.done(), task.result()
        finally:
            for task in workers:
                task.cancel()
            for task in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert 503 in seen and 400 in seen
