"""Fixtures: a real broker on a free port with a movable clock, its mock IdPs, and the run's log
scan. What the tests import is in named modules: brokers, worlds, login_walk, jwt_tools."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.clock import FrozenClock
from broker.frontend.oidc.keys import KeyRing
from tests.brokers import RunningBroker, start_broker
from tests.postgres import PostgresServer
from tests.servers import bound_socket, serve
from tests.worlds import (
    SAML_SP_SETTINGS,
    IdPClock,
    JourneyWorld,
    OrgSAMLWorld,
    SAMLWorld,
    idp_configs_for,
    serve_journey,
)

# The run's log scan (its hooks: `tests/log_scan.py`); pytester, to run pytest itself in a test.
pytest_plugins = ["tests.log_scan", "pytester"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run, started by the first test that asks."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres: PostgresServer) -> str:
    """A fresh database of the broker's schema, for this test alone."""
    return postgres.new_database()


@pytest.fixture
def store_backend() -> str:
    """The brokers' store: SQLite; a module whose flows run on PostgreSQL too overrides this
    fixture with `params=BACKENDS`."""
    return "sqlite"


@pytest.fixture
def store_settings(request: pytest.FixtureRequest, store_backend: str) -> dict[str, Any]:
    """`store:` settings of the backend (the SQLite file is under the test's tmp_path)."""
    if store_backend == "postgresql":
        return {"backend": "postgresql", "dsn": request.getfixturevalue("postgres_dsn")}
    return {"backend": "sqlite"}


@pytest.fixture(scope="session")
def broker_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signing keys made once per test run (RSA generation is the slow part of a start)."""
    directory = tmp_path_factory.mktemp("broker-keys") / "keys"
    KeyRing(directory, FrozenClock(time.time() - 3600)).ensure(["RS256", "ES256"])
    return directory


@pytest.fixture(scope="session")
def mock_idp_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mock-idp-keys")


@pytest.fixture
def required_registration() -> Collection[str]:
    """Organisations whose first login goes to the registration form in this module's brokers
    (`registration: required`); by default none: organisation logins make the account at once.
    A module that tests the form through an organisation login overrides this fixture."""
    return ()


@pytest.fixture
def world(
    tmp_path: Path,
    broker_keys: Path,
    mock_idp_keys: Path,
    store_settings: dict[str, Any],
    required_registration: Collection[str],
) -> Iterator[JourneyWorld]:
    clock = IdPClock()
    for running in serve_journey(
        tmp_path,
        broker_keys,
        mock_idp_keys,
        idp_clock=clock,
        required_registration=required_registration,
        store=store_settings,
    ):
        yield JourneyWorld(running, running.idp_url, clock)


@pytest.fixture(scope="session")
def saml_sp_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The broker's SAML SP key pair made once per run (RSA 3072 takes seconds)."""
    from broker.upstream.saml.sp_keys import ServiceProviderKeys

    directory = tmp_path_factory.mktemp("saml-sp") / "keys"
    ServiceProviderKeys.load_or_create(directory)
    return directory


@pytest.fixture
def broker_overrides() -> dict[str, Any]:
    """More settings for the broker of `saml_world`; a test module may override this fixture."""
    return {}


@pytest.fixture
def saml_world(
    tmp_path: Path,
    broker_keys: Path,
    mock_idp_keys: Path,
    saml_sp_keys: Path,
    broker_overrides: dict[str, Any],
) -> Iterator[SAMLWorld]:
    from mock_idps.suomifi_idp import create_app as create_suomifi

    broker_sock, suomifi_sock = bound_socket(), bound_socket()
    suomifi_base = f"http://127.0.0.1:{suomifi_sock.getsockname()[1]}"
    configs = idp_configs_for("http://127.0.0.1:9", tmp_path / "idp_configs", suomifi_base)
    shutil.copytree(saml_sp_keys, tmp_path / "saml-keys")
    for running in start_broker(
        tmp_path,
        broker_keys,
        broker_sock,
        idp_configs=configs,
        saml_sp=SAML_SP_SETTINGS,
        **broker_overrides,
    ):
        suomifi = create_suomifi(
            suomifi_base,
            sp_metadata=[running.url + "/saml/metadata"],
            key_dir=mock_idp_keys / "suomifi",
            faults_enabled=True,
        )
        with contextlib.ExitStack() as stack:
            suomifi_url = stack.enter_context(serve(suomifi, suomifi_sock))
            yield SAMLWorld(running, suomifi_url, stack.close)


@pytest.fixture
def org_saml_world(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path, saml_sp_keys: Path
) -> Iterator[OrgSAMLWorld]:
    from mock_idps.org_saml_idp import create_app as create_org_saml

    saml_sock = bound_socket()
    saml_base = f"http://127.0.0.1:{saml_sock.getsockname()[1]}"
    shutil.copytree(saml_sp_keys, tmp_path / "saml-keys")
    clock = IdPClock()
    for running in serve_journey(tmp_path, broker_keys, mock_idp_keys, saml_base, clock):
        org_saml = create_org_saml(
            saml_base,
            sp_metadata=[running.url + "/saml/metadata"],
            key_dir=mock_idp_keys / "org-saml",
            clock=clock,
            faults_enabled=True,
        )
        with serve(org_saml, saml_sock) as saml_url:
            yield OrgSAMLWorld(running, running.idp_url, clock, org_saml_url=saml_url)


@pytest.fixture
def broker(world: JourneyWorld) -> RunningBroker:
    return world.broker


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping user agent that does not follow redirects, so each hop is checked."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client
