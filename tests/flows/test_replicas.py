"""Two broker replicas on one PostgreSQL database behind a round-robin load balancer: separate
uvicorn servers and app instances sharing only the database and the key files (as a shared
volume or the same mounted secrets would give them). Every request of a login goes to the other
replica than the one before."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.app import create_app
from broker.clock import FrozenClock
from broker.frontend.oidc.keys import KeyRing
from broker.settings import Settings
from tests.balancer import Balancer
from tests.brokers import RunningBroker, make_settings, start_broker
from tests.flows.conftest import LogoutReceiver, wait_for
from tests.login_walk import choose_organisation, upstream_login
from tests.portal_client import callback_params, code_form, portal_client, start
from tests.servers import bound_socket, serve
from tests.worlds import idp_configs_for

TOKEN_LIMIT = 6  # token requests per address and minute, counted across both replicas


@dataclass
class Replicas:
    front: RunningBroker  # url: the load balancer (the issuer); settings: replica A's
    urls: list[str]  # replica A, replica B, directly
    balancer: Balancer


def replica_settings(tmp_path: Path, issuer: str, port: int, **overrides: Any) -> Settings:
    """One replica's settings: the issuer, key files, secret files and database all shared."""
    return make_settings(tmp_path, port, issuer=issuer, **overrides)


@pytest.fixture
def replicas(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path, postgres_dsn: str
) -> Iterator[Replicas]:
    from mock_idps.oidc_idp import create_app as create_mock_idp

    front_sock, idp_sock, socks = bound_socket(), bound_socket(), [bound_socket(), bound_socket()]
    issuer = f"http://127.0.0.1:{front_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[issuer + "/upstream/oidc/callback/{org}"],
        key_dir=mock_idp_keys,
    )
    shutil.copytree(broker_keys, tmp_path / "keys")
    overrides: dict[str, Any] = {
        "idp_configs": idp_configs_for(idp_base, tmp_path / "idp_configs"),
        "store": {"backend": "postgresql", "dsn": postgres_dsn, "timeout_seconds": 2},
        "housekeeping_seconds": 0.05,
        "limits": {"token_per_ip": {"hits": TOKEN_LIMIT, "seconds": 60}},
    }
    clock = FrozenClock(time.time())
    with contextlib.ExitStack() as stack:
        idp_url = stack.enter_context(serve(mock, idp_sock))
        urls = []
        for sock in socks:
            settings = replica_settings(tmp_path, issuer, sock.getsockname()[1], **overrides)
            urls.append(stack.enter_context(serve(create_app(settings, clock=clock), sock)))
        balancer = Balancer(list(urls))
        stack.enter_context(serve(balancer, front_sock))
        front = RunningBroker(issuer, clock, settings, idp_url=idp_url)
        yield Replicas(front, urls, balancer)


async def login_across(replicas: Replicas, browser: httpx.AsyncClient) -> tuple[str, Any]:
    """A whole login through the balancer; the code, and the portal's authorization."""
    front = replicas.front
    auth = await start(portal_client(front))
    first = await browser.get(auth.url)
    assert first.headers["location"] == "/login/role"
    back = await upstream_login(browser, await choose_organisation(browser, front))
    assert back.status_code == 303, back.text
    return callback_params(back.headers["location"])["code"], auth


async def redeem_at(
    replicas: Replicas, url: str, code: str, verifier: str, client_id: str = "portal"
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            url + "/token",
            data=code_form(code, verifier),
            auth=(client_id, replicas.front.secrets[client_id]),
        )


def served_by(replicas: Replicas, path: str) -> str:
    return next(up for up, p in reversed(replicas.balancer.served) if p.startswith(path))


async def test_a_login_alternating_between_replicas_completes_and_its_code_is_single_use(
    replicas: Replicas, browser: httpx.AsyncClient
) -> None:
    await replicas.front.add_client()
    code, auth = await login_across(replicas, browser)
    served = [up for up, _ in replicas.balancer.served]
    assert set(served) == set(replicas.urls)
    assert all(a != b for a, b in itertools.pairwise(served))  # every step switched
    callback = served_by(replicas, "/upstream/oidc/callback")
    other = next(url for url in replicas.urls if url != callback)
    redeemed = await redeem_at(replicas, other, code, auth.code_verifier)
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["id_token"]
    bearer = {"Authorization": f"Bearer {redeemed.json()['access_token']}"}
    async with httpx.AsyncClient() as http:
        for url in replicas.urls:  # issued by one replica, good at either
            assert (await http.get(url + "/userinfo", headers=bearer)).status_code == 200
        replayed = await redeem_at(replicas, callback, code, auth.code_verifier)
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_grant"
        for url in replicas.urls:  # the replay revoked the grant, for both replicas
            assert (await http.get(url + "/userinfo", headers=bearer)).status_code == 401


async def test_the_token_rate_limit_counts_requests_at_both_replicas(replicas: Replicas) -> None:
    await replicas.front.add_client()
    statuses = []
    for i in range(TOKEN_LIMIT + 1):
        refused = await redeem_at(replicas, replicas.urls[i % 2], f"made-up-{i}", "v" * 43)
        statuses.append(refused.status_code)
    # each replica saw at most four requests: only the shared count reaches the limit
    assert statuses == [400] * TOKEN_LIMIT + [429]


async def test_a_back_channel_logout_is_sent_once_though_both_replicas_deliver(
    replicas: Replicas, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    await replicas.front.add_client(backchannel_logout_uri=receiver.url)
    code, auth = await login_across(replicas, browser)
    tokens = await redeem_at(replicas, replicas.urls[0], code, auth.code_verifier)
    receiver.release = threading.Event()  # the portal answers slowly: the delivery is in flight
    logout = await browser.get(
        replicas.front.url + "/end_session", params={"id_token_hint": tokens.json()["id_token"]}
    )
    assert logout.status_code == 200
    await wait_for(receiver.received.is_set)
    await asyncio.sleep(0.5)  # both replicas' workers poll the outbox ten times meanwhile
    receiver.release.set()

    async def outbox_empty() -> bool:
        return not await replicas.front.query("SELECT delivery_id FROM logout_outbox")

    for _ in range(250):
        if await outbox_empty():
            break
        await asyncio.sleep(0.02)
    assert await outbox_empty()
    assert len(receiver.tokens) == 1


async def test_housekeeping_runs_in_one_replica_and_rotated_keys_reach_both(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="broker.housekeeping")

    def rounds() -> list[str]:
        """The holder of each once-only round, from the message as logged (the log's scrubber
        may have rendered a record's arguments into its message already)."""
        found = (
            re.match(r"housekeeping by (\S+): ", r.getMessage())
            for r in caplog.records
            if r.name == "broker.housekeeping"
        )
        return [m.group(1) for m in found if m]

    await wait_for(lambda: len(rounds()) >= 20)
    assert len(set(rounds())) == 1  # purge and key pruning: one holder, never both
    [lease] = await replicas.front.query("SELECT holder FROM leases WHERE name = 'housekeeping'")
    assert lease["holder"] == rounds()[0]
    # a key rotated (by the CLI, or any process) on the shared key directory: both publish it
    ring = KeyRing(replicas.front.settings.keys.directory, replicas.front.clock)
    ring.load()
    kid = ring.rotate("ES256", publish_lead=3600).kid
    async with httpx.AsyncClient() as http:
        for url in replicas.urls:
            for _ in range(250):
                jwks = (await http.get(url + "/jwks")).json()
                if kid in {key["kid"] for key in jwks["keys"]}:
                    break
                await asyncio.sleep(0.02)
            assert kid in {key["kid"] for key in jwks["keys"]}, url


async def test_a_replica_shutting_down_gives_the_housekeeping_lease_up(
    tmp_path: Path, broker_keys: Path
) -> None:
    """So that another replica need not wait for it to expire."""
    for broker in start_broker(tmp_path, broker_keys, housekeeping_seconds=0.05):
        for _ in range(250):
            if await broker.query("SELECT holder FROM leases"):
                break
            await asyncio.sleep(0.02)
        assert await broker.query("SELECT holder FROM leases")
    assert not await broker.query("SELECT holder FROM leases")
