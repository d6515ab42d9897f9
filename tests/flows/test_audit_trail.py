"""The authentication audit trail and the helpdesk's error lookup, through the running broker
and the CLI: each completed or failed login is recorded (never an identity code or a name), and
the error id on an error page tells support what happened."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from broker.logs import formatter
from tests.brokers import RunningBroker
from tests.flows.test_logs_and_cli import cli
from tests.login_walk import HUS_USER_NAME, choose, log_in, upstream_login, walk_to_idp
from tests.portal_client import callback_params, portal_client, start
from tests.worlds import JourneyWorld

HUS_HETU = "010280-952L"  # Maija's identity code at the mock IdP (mock_idps/test_users.yaml)


def cli_config(broker: RunningBroker) -> Path:
    """The running broker's settings as a file, for the CLI on the same store."""
    path = broker.settings.store.sqlite_path.parent / "cli.yaml"
    data = broker.settings.model_dump(mode="json", exclude_defaults=True)
    path.write_text(yaml.safe_dump(data))
    return path


async def run_cli(
    broker: RunningBroker, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`sote-broker` in this process, in a thread (a command runs an event loop of its own)."""
    return await asyncio.to_thread(cli, cli_config(broker), *args, check=check)


async def export(broker: RunningBroker, *filters: str) -> list[dict[str, Any]]:
    out = (await run_cli(broker, "audit", "export", *filters)).stdout
    assert HUS_HETU not in out and HUS_USER_NAME not in out and "Maija" not in out
    return [json.loads(line) for line in out.splitlines()]


def error_id_of(page: httpx.Response) -> str:
    found = re.search(r"\b([0-9a-f]{8})\b", page.text.split("Virhetunnus", 1)[1])
    assert found, page.text
    return found[1]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The broker's log lines of the test, JSON, as production writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(json_format=True))
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


async def test_completed_logins_are_in_the_audit_trail_and_in_the_log_by_reference(
    world: JourneyWorld, browser: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    broker = world.broker
    await broker.add_client()
    await broker.add_client("other")
    auth = await start(portal_client(broker))
    location = await walk_to_idp(browser, broker, auth.url)
    tx_id = browser.cookies["sote_tx_insecure_dev"].rsplit(".", 1)[0]
    back = await upstream_login(browser, location)  # registers: a new account
    assert "code" in callback_params(back.headers["location"])
    sso = await browser.get((await start(portal_client(broker, "other"))).url)
    assert "code" in callback_params(sso.headers["location"])

    [account] = await broker.query("SELECT account_id FROM accounts")
    first, second = await export(broker)
    assert first == {
        "at": first["at"],
        "outcome": "completed",
        "reason": None,
        "account_id": account["account_id"],
        "client_id": "portal",
        "route": "organisation",
        "idp_id": "hus",
        "acr": first["acr"],
        "login_ref": hashlib.sha256(tx_id.encode()).hexdigest()[:8],
        "error_id": None,
    }
    assert first["acr"].startswith("http://ftn.ficora.fi/2017/loa")
    assert (second["client_id"], second["route"]) == ("other", "sso")
    assert second["account_id"] == account["account_id"]
    assert await export(broker, "--client", "other") == [second]
    assert await export(broker, "--account", account["account_id"]) == [first, second]
    assert await export(broker, "--account", "nobody") == []
    assert await export(broker, "--since", "2999-01-01T00:00:00+02:00") == []

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    callback = next(x for x in lines if x["event"].startswith("GET /upstream/oidc/callback/hus"))
    assert callback["login_ref"] == first["login_ref"]
    assert (callback["client_id"], callback["idp"]) == ("portal", "hus")
    assert re.fullmatch(r"[0-9a-f]{12}", callback["request_id"])
    assert tx_id not in json_log.getvalue()


async def test_a_refused_upstream_answer_is_a_failed_login_and_support_sees_why(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    location = await walk_to_idp(browser, broker, (await start(portal_client(broker))).url)
    await world.fault("hus", "bad_signature")
    page = await upstream_login(browser, location)
    assert page.status_code == 502, page.text
    error_id = error_id_of(page)

    [failed] = await export(broker)
    assert failed["outcome"] == "failed"
    assert failed["reason"] == "upstream_response_refused"
    assert (failed["client_id"], failed["route"], failed["idp_id"]) == (
        "portal",
        "organisation",
        "hus",
    )
    assert (failed["account_id"], failed["error_id"]) == (None, error_id)

    shown = (await run_cli(broker, "errors", "show", error_id)).stdout
    assert re.search(r"^error\s+UpstreamResponseError$", shown, re.M), shown
    assert re.search(r"^path\s+/upstream/oidc/callback/hus$", shown, re.M), shown
    assert re.search(r"^portal\s+portal$", shown, re.M) and re.search(r"^IdP\s+hus$", shown, re.M)
    assert re.search(r"^login\s+" + failed["login_ref"] + "$", shown, re.M), shown
    assert re.search(r"^status\s+502$", shown, re.M), shown
    assert HUS_HETU not in shown and "Maija" not in shown


async def test_errors_show_prints_what_happened_behind_an_error_page(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """A choice not on offer (a tampered page): no login failed, but the id tells support where."""
    broker = world.broker
    await broker.add_client()
    first = await browser.get((await start(portal_client(broker))).url)
    assert first.headers["location"] == "/login/role"
    page = await choose(browser, broker.url, "/login/role", f"professional {HUS_HETU}")
    assert page.status_code == 400, page.text
    error_id = error_id_of(page)

    found = json.loads((await run_cli(broker, "errors", "show", error_id, "--json")).stdout)
    assert found == {
        "error_id": error_id,
        "at": found["at"],
        "path": "/login/role",
        "status": 400,
        "error": "UnknownChoiceError",
        "message_id": found["message_id"],
        "client_id": "portal",
        "idp_id": None,
        "request_id": found["request_id"],
        "login_ref": found["login_ref"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", found["at"])
    assert HUS_HETU not in json.dumps(found)
    assert await export(broker) == []  # a refused choice ends no login

    missing = await run_cli(broker, "errors", "show", "00000000", check=False)
    assert missing.returncode == 1 and "no error 00000000" in missing.stderr


async def test_anonymous_error_pages_write_nothing_to_the_store(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """A 404 or a callback without a login is refused with an id in the log only: anyone could
    otherwise grow the store a row a request."""
    broker = world.broker
    for page in (
        await browser.get(broker.url + f"/no-such-page/{HUS_HETU}"),
        await browser.get(broker.url + "/upstream/oidc/callback/hus?code=x&state=y"),
    ):
        assert page.status_code in (400, 404), page.text
        error_id = error_id_of(page)
        shown = await run_cli(broker, "errors", "show", error_id, check=False)
        assert shown.returncode == 1, shown.stdout
    assert await broker.query("SELECT * FROM error_events") == []
    assert await export(broker) == []


async def test_a_login_completed_after_a_failed_route_has_both_records(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    auth = await start(portal_client(broker))
    location = await walk_to_idp(browser, broker, auth.url)
    await world.fault("hus", "token_garbage")
    assert (await upstream_login(browser, location)).status_code == 502
    back = await log_in(browser, broker, auth.url)
    assert "code" in callback_params(back.headers["location"])
    assert [(e["outcome"], e["reason"]) for e in await export(broker)] == [
        ("failed", "upstream_unavailable"),
        ("completed", None),
    ]
