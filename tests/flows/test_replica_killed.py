"""A replica killed (SIGKILL) in the middle of a login: a real `sote-broker serve` process, and
a second replica on the same PostgreSQL database behind the same load balancer. The login goes
on at the other replica; nothing is issued twice; the dead replica's housekeeping lease passes
to the survivor once it expires."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from broker.app import create_app
from broker.clock import FrozenClock
from broker.housekeeping import LEASE
from tests.balancer import Balancer
from tests.brokers import RunningBroker, make_settings
from tests.login_walk import upstream_login, walk_to_idp
from tests.mail import mail_sink
from tests.portal_client import callback_params, code_form, portal_client, start
from tests.processes import serve_process
from tests.servers import bound_socket, serve
from tests.worlds import idp_configs_for


@dataclass
class KilledWorld:
    front: RunningBroker  # the balancer's URL; the surviving replica's settings and clock
    process: subprocess.Popen[str]  # replica A
    survivor: str  # replica B's URL
    balancer: Balancer


def process_config(tmp_path: Path, issuer: str, port: int, store: dict[str, Any]) -> Path:
    """Replica A's settings file: the same issuer, files and database as replica B."""
    settings = {
        "mode": "development",
        "issuer": issuer,
        "port": port,
        "secret_file": str(tmp_path / "secret"),
        "subject_key_file": str(tmp_path / "subject-key"),
        "store": store,
        "keys": {"directory": str(tmp_path / "keys"), "publish_lead_seconds": 0},
        "saml_sp": {"key_directory": str(tmp_path / "saml-keys")},
        "smtp": {"host": "127.0.0.1", "port": mail_sink().port, "security": "none"},
        "idp_configs": str(tmp_path / "idp_configs"),
        "housekeeping_seconds": 0.2,
    }
    path = tmp_path / "replica-a.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture
def killed_world(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path, postgres_dsn: str
) -> Iterator[KilledWorld]:
    from mock_idps.oidc_idp import create_app as create_mock_idp

    front_sock, idp_sock, b_sock = bound_socket(), bound_socket(), bound_socket()
    a_sock = bound_socket()
    a_port = a_sock.getsockname()[1]
    a_sock.close()  # the process binds it
    issuer = f"http://127.0.0.1:{front_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[issuer + "/upstream/oidc/callback/{org}"],
        key_dir=mock_idp_keys,
    )
    shutil.copytree(broker_keys, tmp_path / "keys")
    configs = idp_configs_for(idp_base, tmp_path / "idp_configs")
    store = {"backend": "postgresql", "dsn": postgres_dsn}
    a_url = f"http://127.0.0.1:{a_port}"
    with contextlib.ExitStack() as stack:
        idp_url = stack.enter_context(serve(mock, idp_sock))
        process = serve_process(process_config(tmp_path, issuer, a_port, store), a_url)
        stack.callback(process.kill)
        settings = make_settings(
            tmp_path,
            b_sock.getsockname()[1],
            issuer=issuer,
            idp_configs=configs,
            store=store,
            housekeeping_seconds=0.05,
        )
        clock = FrozenClock(time.time())
        b_url = stack.enter_context(serve(create_app(settings, clock=clock), b_sock))
        balancer = Balancer([a_url])
        stack.enter_context(serve(balancer, front_sock))
        front = RunningBroker(issuer, clock, settings, idp_url=idp_url)
        yield KilledWorld(front, process, b_url, balancer)


async def lease_holder(world: KilledWorld) -> str:
    rows = await world.front.query("SELECT holder FROM leases WHERE name = ?", (LEASE,))
    return str(rows[0]["holder"]) if rows else ""


async def test_a_login_begun_on_a_killed_replica_finishes_on_the_other_once(
    killed_world: KilledWorld, browser: httpx.AsyncClient
) -> None:
    world, front = killed_world, killed_world.front
    await front.add_client()
    pid = world.process.pid
    assert f":{pid}:" in await lease_holder(world)  # A started first: it does housekeeping
    auth = await start(portal_client(front))
    to_idp = await walk_to_idp(browser, front, auth.url)  # every step so far on replica A
    assert {up for up, _ in world.balancer.served} == {world.balancer.upstreams[0]}

    os.kill(pid, signal.SIGKILL)
    assert world.process.wait(timeout=10) == -signal.SIGKILL
    world.balancer.upstreams = [world.survivor]  # the load balancer's health check took A out
    back = await upstream_login(browser, to_idp)
    assert back.status_code == 303, back.text
    code = callback_params(back.headers["location"])["code"]

    async with httpx.AsyncClient() as http:
        auth_basic = ("portal", front.secrets["portal"])
        form = code_form(code, auth.code_verifier)
        first = await http.post(world.survivor + "/token", data=form, auth=auth_basic)
        again = await http.post(world.survivor + "/token", data=form, auth=auth_basic)
    assert first.status_code == 200, first.text
    assert again.json()["error"] == "invalid_grant"
    assert len(await front.query("SELECT grant_id FROM grants")) == 1

    # A's lease outlives A by at most three of its rounds; then B takes the housekeeping over
    front.clock.advance(5)
    for _ in range(250):
        if f":{os.getpid()}:" in await lease_holder(world):
            break
        await asyncio.sleep(0.02)
    assert f":{os.getpid()}:" in await lease_holder(world)
