"""The mock Suomi.fi rolls its signing key while the broker runs: its signed metadata goes from
(old) to (old + new) to (new), the broker's background refresh picks each up (the broker's clock
moves, the broker is not restarted, and no login pays for a fetch), logins keep working, and
after the rollover an answer signed by the retired key is refused. The broker checks the
metadata's signature with the mock's metadata signing certificate, as production must."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_idps.saml_common.keys import load_or_create_pair
from mock_idps.suomifi_idp.provider import KEY_NAME, ORGANISATION
from tests.brokers import start_broker
from tests.flows.conftest import wait_for
from tests.flows.suomifi import back_at_broker, suomifi_answer, to_suomifi
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.servers import bound_socket, serve
from tests.worlds import SAML_SP_SETTINGS, SAMLWorld, idp_configs_for

pytestmark = pytest.mark.filterwarnings(  # pysaml2's temporary files on a refused signature
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

LOADED = "idp suomifi: SAML metadata loaded"


class MetadataFetches:
    """The mock as served, counting GET /metadata (who fetched it, and when)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.count = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metadata":
            self.count += 1
        await self.app(scope, receive, send)


@dataclass
class RollingWorld:
    saml: SAMLWorld
    fetches: MetadataFetches
    caplog: pytest.LogCaptureFixture

    def loads(self) -> int:
        return self.caplog.text.count(LOADED)

    async def roll(self, step: str) -> None:
        async with httpx.AsyncClient() as http:
            answer = await http.post(self.saml.suomifi_url + "/_key-rollover", json={"step": step})
            answer.raise_for_status()

    async def refreshed_in_the_background(self) -> None:
        """Move the broker's clock past the refresh interval; wait for the background's load."""
        before = self.loads()
        self.saml.broker.clock.advance(600)
        await wait_for(lambda: self.loads() > before, seconds=15)


@pytest.fixture
def rolling_world(
    tmp_path: Path, broker_keys: Path, saml_sp_keys: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[RollingWorld]:
    from mock_idps.suomifi_idp import create_app as create_suomifi

    caplog.set_level(logging.INFO, logger="broker.upstream.saml.connector")
    mock_keys = tmp_path / "suomifi-keys"  # its own: the rollover must not reach other tests
    signer = load_or_create_pair(mock_keys, f"{KEY_NAME}-metadata-TEST-ONLY", ORGANISATION)
    broker_sock, suomifi_sock = bound_socket(), bound_socket()
    suomifi_base = f"http://127.0.0.1:{suomifi_sock.getsockname()[1]}"
    configs = idp_configs_for("http://127.0.0.1:9", tmp_path / "idp_configs", suomifi_base)
    path = configs / "suomifi.yaml"
    signed = f"saml:\n  metadata_signing_certificates: {signer.cert_file}\n"
    path.write_text(
        path.read_text().replace("saml:\n", signed + "  metadata_refresh_seconds: 600\n")
    )
    shutil.copytree(saml_sp_keys, tmp_path / "saml-keys")
    for running in start_broker(
        tmp_path, broker_keys, broker_sock, idp_configs=configs, saml_sp=SAML_SP_SETTINGS
    ):
        suomifi = create_suomifi(
            suomifi_base,
            sp_metadata=[running.url + "/saml/metadata"],
            key_dir=mock_keys,
            faults_enabled=True,
        )
        fetches = MetadataFetches(suomifi)
        with serve(fetches, suomifi_sock) as suomifi_url:
            yield RollingWorld(SAMLWorld(running, suomifi_url), fetches, caplog)


async def log_in(world: RollingWorld) -> httpx.Response:
    """A whole login through the personal route, in a browser of its own (no SSO session at the
    broker or the mock): the broker's answer after the ACS. No metadata is fetched meanwhile."""
    fetched = world.fetches.count
    client = portal_client(world.saml.broker)
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        auth = await start(client)
        acs, form = await suomifi_answer(browser, await to_suomifi(browser, world.saml, auth.url))
        back = await back_at_broker(browser, world.saml, acs, form)
        if back.status_code == 303:
            code = callback_params(back.headers["location"])["code"]
            assert (await redeem(client, auth, code))["id_token"]
    assert world.fetches.count == fetched, "a login paid for a metadata fetch"
    return back


async def test_the_idps_key_rollover_needs_no_broker_restart(rolling_world: RollingWorld) -> None:
    world = rolling_world
    await world.saml.broker.add_client()
    # the broker's first fetch at start-up found the mock not yet listening; its retry loads it
    await world.refreshed_in_the_background()
    assert (await log_in(world)).status_code == 303  # signed by the old key

    await world.roll("publish")  # metadata: old + new; the old key still signs
    await world.refreshed_in_the_background()
    await world.roll("switch")  # the new key signs: the broker already knows it
    assert (await log_in(world)).status_code == 303

    await world.roll("retire")  # metadata: new only
    await world.refreshed_in_the_background()
    async with httpx.AsyncClient() as http:
        armed = await http.post(
            world.saml.suomifi_url + "/_faults", json={"fault": "signed_by_retired_key"}
        )
        armed.raise_for_status()
    refused = await log_in(world)
    assert refused.status_code == 502, refused.text  # the error page: the old key is refused
    assert "Virhetunnus" in refused.text
    assert "UpstreamResponseError: suomifi: SignatureError" in world.caplog.text
    assert (await log_in(world)).status_code == 303  # the new key's answers still are not
    assert "metadata refresh failed (suomifi: metadata signature" not in world.caplog.text
