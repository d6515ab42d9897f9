"""A real 500 (the store fails under a running broker) still carries every security header."""

from __future__ import annotations

import sqlite3

import httpx

from broker.http.middleware import SECURITY_HEADERS
from tests.brokers import RunningBroker
from tests.portal_client import portal_client, start


def break_the_store(broker: RunningBroker, *tables: str) -> None:
    """Another process drops tables under the broker: its next query of them fails."""
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        for table in tables:
            db.execute(f"DROP TABLE {table}")


def assert_security_headers(response: httpx.Response) -> None:
    assert response.status_code == 500
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("X-Request-Id")
    assert response.headers.get("Cache-Control") == "no-store"


async def test_a_500_page_carries_the_security_headers(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    auth = await start(portal_client(broker))
    break_the_store(broker, "transactions")
    response = await browser.get(auth.url, headers={"Accept-Language": "en"})
    assert_security_headers(response)
    assert response.headers["content-type"].startswith("text/html")
    assert 'lang="en"' in response.text and "Traceback" not in response.text


async def test_a_500_json_answer_carries_the_security_headers(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    break_the_store(broker, "tokens")
    response = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": "Bearer some-access-token"}
    )
    assert_security_headers(response)
    assert response.json()["error"] == "server_error"


async def test_a_500_on_an_https_issuer_carries_hsts(
    production_broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    break_the_store(production_broker, "tokens")
    response = await browser.get(
        production_broker.url + "/userinfo", headers={"Authorization": "Bearer some-token"}
    )
    assert_security_headers(response)
    assert response.headers.get("Strict-Transport-Security") == "max-age=31536000"
