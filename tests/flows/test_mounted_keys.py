"""Signing keys on a read-only mount shared by every replica (a Kubernetes Secret, a Docker
secret): the broker starts without writing there, publishes a key the operator adds by updating
the mount, and leaves an expired key's file to the operator instead of failing housekeeping."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

import httpx
import pytest

from broker.app import create_app
from broker.clock import FrozenClock
from broker.frontend.oidc.keys import KeyRing
from tests.brokers import make_settings
from tests.flows.test_data_directory import write_config
from tests.flows.test_logs_and_cli import cli
from tests.read_only import read_only, writable
from tests.servers import bound_socket, serve


async def kids(http: httpx.AsyncClient, url: str) -> set[str]:
    response = await http.get(url + "/jwks")
    assert response.status_code == 200
    return {key["kid"] for key in response.json()["keys"]}


async def test_a_broker_runs_on_a_read_only_key_mount_and_follows_its_updates(
    tmp_path: Path, broker_keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(broker_keys, keys)
    (keys / ".lock").unlink(missing_ok=True)  # a mounted secret holds the key files only
    sock = bound_socket()
    settings = make_settings(tmp_path, sock.getsockname()[1], housekeeping_seconds=0.05)
    clock = FrozenClock(time.time())
    with read_only(keys), serve(create_app(settings, clock=clock), sock) as url:
        async with httpx.AsyncClient() as http:
            first = await kids(http, url)
            assert len(first) == 2  # RS256 and ES256
            with writable(keys):  # the operator rotates and updates the secret
                ring = KeyRing(keys, clock, publish_lead=0)
                ring.load()
                new = ring.rotate("ES256").kid
            for _ in range(250):
                if new in await kids(http, url):
                    break
                await asyncio.sleep(0.02)
            assert await kids(http, url) == first | {new}

            caplog.set_level(logging.WARNING)
            clock.advance(30 * 86400)  # the superseded ES256 key is long expired
            for _ in range(250):
                if "its file cannot be deleted here" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            assert "its file cannot be deleted here" in caplog.text
            assert "housekeeping failed" not in caplog.text
            published = await kids(http, url)
    assert new in published and len(published) == 2
    assert len(list(keys.glob("*.json"))) == 3  # the expired key's file is the operator's to remove


def test_a_read_only_key_mount_without_keys_stops_start_up_naming_it(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    config = write_config(tmp_path, tmp_path / "data")
    with read_only(keys):
        refused = cli(config, "serve", check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"sote-broker: {keys}: cannot make the missing signing keys" in refused.stderr
    assert "Traceback" not in refused.stderr
