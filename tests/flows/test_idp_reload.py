"""Reading the IdP files again without a restart: two real `sote-broker serve` processes on one
PostgreSQL database, each with its own idp_configs/ directory (as each replica has its own copy),
and the mock organisation OIDC IdP. `sote-broker idps reload` makes both offer an organisation
added to their files on the next page; a broken file is refused and both keep the old set;
SIGHUP reloads the one process it reaches, and a broken file then keeps its old set too."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from broker.clock import FrozenClock
from broker.settings import Settings
from tests.brokers import RunningBroker
from tests.login_walk import choose, upstream_login
from tests.mail import mail_sink
from tests.portal_client import portal_client, start
from tests.processes import serve_process
from tests.servers import bound_socket, serve
from tests.worlds import idp_configs_for

ADDED = "pajjatha"  # left out of the files at start, added by the test
GROUP = "hyvinvointialueet"  # its group, where lshp is from the start


@dataclass
class Replica:
    broker: RunningBroker
    configs: Path
    config: Path
    log: Path
    process: subprocess.Popen[str]

    def text_of_log(self) -> str:
        return self.log.read_text()


@dataclass
class ReloadWorld:
    replicas: list[Replica]
    idp_url: str
    added_file: str  # the text of pajjatha.yaml, pointed at the mock


def replica_config(
    tmp_path: Path, name: str, port: int, store: dict[str, Any], **more: Any
) -> Path:
    directory = tmp_path / name
    settings = {
        "mode": "development",
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "secret_file": str(tmp_path / "secret"),
        "subject_key_file": str(tmp_path / "subject-key"),
        "store": store,
        "keys": {"directory": str(tmp_path / "keys"), "publish_lead_seconds": 0},
        "saml_sp": {"key_directory": str(tmp_path / "saml-keys")},
        "smtp": {"host": "127.0.0.1", "port": mail_sink().port, "security": "none"},
        "idp_configs": str(directory / "idp_configs"),
        **more,
    }
    directory.mkdir()
    path = directory / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def free_port() -> int:
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    sock.close()  # the process binds it
    return port


@pytest.fixture
def reload_world(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path, postgres_dsn: str
) -> Iterator[ReloadWorld]:
    from mock_idps.oidc_idp import create_app as create_mock_idp

    idp_sock = bound_socket()
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    ports = [free_port(), free_port()]
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[f"http://127.0.0.1:{p}/upstream/oidc/callback/{{org}}" for p in ports],
        key_dir=mock_idp_keys,
    )
    shutil.copytree(broker_keys, tmp_path / "keys")
    store = {"backend": "postgresql", "dsn": postgres_dsn}
    replicas: list[Replica] = []
    added = ""
    with serve(mock, idp_sock) as idp_url:
        try:
            for name, port in zip(("a", "b"), ports, strict=True):
                config = replica_config(
                    tmp_path, name, port, store, idps={"reload_check_seconds": 0}
                )
                configs = idp_configs_for(idp_base, config.parent / "idp_configs")
                added = (configs / f"{ADDED}.yaml").read_text()
                (configs / f"{ADDED}.yaml").unlink()
                log = config.parent / "broker.log"
                url = f"http://127.0.0.1:{port}"
                process = serve_process(config, url, log)
                settings = Settings.model_validate(yaml.safe_load(config.read_text()))
                running = RunningBroker(url, FrozenClock(time.time()), settings, idp_url=idp_url)
                replicas.append(Replica(running, configs, config, log, process))
            yield ReloadWorld(replicas, idp_url, added)
        finally:
            for replica in replicas:
                replica.process.terminate()
                replica.process.wait(timeout=15)


def idps_cli(replica: Replica, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker", "--config", str(replica.config), "idps", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def organisations_page(replica: Replica) -> str:
    """A new login at this replica, through the choice pages to the organisation page of
    GROUP: the page as a person sees it."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        auth = await start(portal_client(replica.broker))
        first = await browser.get(auth.url)
        assert first.status_code == 303, first.text
        url = replica.broker.url
        for path, choice in (
            ("/login/role", "professional"),
            ("/login/route", "organisation"),
            ("/login/group", GROUP),
        ):
            assert (await choose(browser, url, path, choice)).status_code == 303
        page = await browser.get(url + "/login/organisation")
        assert page.status_code == 200, page.text
        return page.text


PAJJATHA_NAME = "PAJJATHA"
LSHP_NAME = "LSHP"


async def offered(replica: Replica) -> set[str]:
    page = await organisations_page(replica)
    return {name for name in (PAJJATHA_NAME, LSHP_NAME) if name in page}


async def test_idps_reload_makes_every_replica_offer_an_added_organisation(
    reload_world: ReloadWorld,
) -> None:
    a, b = reload_world.replicas
    await a.broker.add_client()
    b.broker.secrets.update(a.broker.secrets)
    assert await offered(a) == await offered(b) == {LSHP_NAME}
    for replica in (a, b):
        (replica.configs / f"{ADDED}.yaml").write_text(reload_world.added_file)
    assert await offered(a) == {LSHP_NAME}  # files alone change nothing

    done = idps_cli(a, "reload")

    assert done.returncode == 0, done.stderr
    assert "reload requested (generation 1)" in done.stdout
    assert await offered(a) == await offered(b) == {LSHP_NAME, PAJJATHA_NAME}


async def test_a_broken_file_is_refused_and_every_replica_keeps_the_old_set(
    reload_world: ReloadWorld,
) -> None:
    a, b = reload_world.replicas
    await a.broker.add_client()
    b.broker.secrets.update(a.broker.secrets)
    broken = reload_world.added_file.replace("protocol: oidc", "protocol: carrier-pigeon")
    for replica in (a, b):
        (replica.configs / f"{ADDED}.yaml").write_text(broken)

    done = idps_cli(a, "reload")

    assert done.returncode == 2
    assert f"{ADDED}.yaml: invalid configuration" in done.stderr
    assert "protocol:" in done.stderr
    assert (await a.broker.query("SELECT generation FROM idp_reloads")) == []
    assert await offered(a) == await offered(b) == {LSHP_NAME}


async def test_a_login_in_flight_to_a_removed_organisation_gets_the_error_page(
    reload_world: ReloadWorld,
) -> None:
    a, b = reload_world.replicas
    await a.broker.add_client()
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        auth = await start(portal_client(a.broker))
        assert (await browser.get(auth.url)).status_code == 303
        for path, choice in (
            ("/login/role", "professional"),
            ("/login/route", "organisation"),
            ("/login/group", GROUP),
        ):
            assert (await choose(browser, a.broker.url, path, choice)).status_code == 303
        to_idp = await choose(browser, a.broker.url, "/login/organisation", "lshp")
        assert to_idp.status_code == 303
        for replica in (a, b):
            (replica.configs / "lshp.yaml").unlink()
        assert idps_cli(a, "reload").returncode == 0

        back = await upstream_login(
            browser, to_idp.headers["location"], ("kaisa.aikio", "testi1234"), register=False
        )

    assert back.status_code == 400, back.text
    assert "Kirjautuminen on vanhentunut" in back.text  # error.transaction, not a 500


def wait_for_log(replica: Replica, text: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while text not in replica.text_of_log():
        if time.monotonic() > deadline:
            raise AssertionError(f"not logged: {text!r}\n{replica.text_of_log()[-3000:]}")
        time.sleep(0.05)


@pytest.fixture
def hup_replica(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path
) -> Iterator[tuple[Replica, str]]:
    """One process on SQLite that never looks at the store's generation (an hour apart)."""
    from mock_idps.oidc_idp import create_app as create_mock_idp

    idp_sock = bound_socket()
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    shutil.copytree(broker_keys, tmp_path / "keys")
    port = free_port()
    config = replica_config(
        tmp_path,
        "a",
        port,
        {"sqlite_path": str(tmp_path / "broker.db")},
        idps={"reload_check_seconds": 300},
    )
    configs = idp_configs_for(idp_base, config.parent / "idp_configs")
    added = (configs / f"{ADDED}.yaml").read_text()
    (configs / f"{ADDED}.yaml").unlink()
    url = f"http://127.0.0.1:{port}"
    with serve(create_mock_idp(idp_base, key_dir=mock_idp_keys), idp_sock) as idp_url:
        log = config.parent / "broker.log"
        process = serve_process(config, url, log)
        try:
            settings = Settings.model_validate(yaml.safe_load(config.read_text()))
            running = RunningBroker(url, FrozenClock(time.time()), settings, idp_url=idp_url)
            yield Replica(running, configs, config, log, process), added
        finally:
            process.terminate()
            process.wait(timeout=15)


async def test_sighup_reloads_the_process_and_a_broken_file_keeps_the_old_set(
    hup_replica: tuple[Replica, str],
) -> None:
    replica, added = hup_replica
    await replica.broker.add_client()
    assert await offered(replica) == {LSHP_NAME}
    (replica.configs / f"{ADDED}.yaml").write_text(added)

    os.kill(replica.process.pid, signal.SIGHUP)
    await asyncio.to_thread(wait_for_log, replica, "IdP files reloaded (SIGHUP)")

    assert await offered(replica) == {LSHP_NAME, PAJJATHA_NAME}
    (replica.configs / "lshp.yaml").write_text("id: lshp\nthis is: [not valid\n")

    os.kill(replica.process.pid, signal.SIGHUP)
    await asyncio.to_thread(wait_for_log, replica, "IdP files not reloaded (SIGHUP)")

    assert "lshp.yaml: not valid YAML" in replica.text_of_log()
    assert await offered(replica) == {LSHP_NAME, PAJJATHA_NAME}
    assert replica.process.poll() is None
