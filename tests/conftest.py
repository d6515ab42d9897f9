"""Fixtures: a real broker on a free port with a movable clock, and portals registered with it."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from broker.app import create_app, make_store
from broker.clock import FrozenClock
from broker.frontend.oidc import secrets
from broker.frontend.oidc.keys import KeyRing
from broker.settings import Settings
from broker.store.records import ClientRecord
from tests.log_scan import RunLog
from tests.mail import last_code, mail_sink
from tests.postgres import PostgresServer
from tests.servers import bound_socket, serve

PORTAL = "http://127.0.0.1:9"  # redirects are read from Location headers, never followed

_RUN_LOG = pytest.StashKey[RunLog]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The whole run's log, at DEBUG, as the broker writes it (`tests/log_scan.py`)."""
    _, path = tempfile.mkstemp(prefix="sote-broker-test-run-", suffix=".log")
    session.config.stash[_RUN_LOG] = run_log = RunLog(Path(path))
    run_log.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fails the run if its log holds an identity code, a JWS, a SAML message or a cookie."""
    run_log = session.config.stash.get(_RUN_LOG, None)
    if run_log is None:
        return
    leaks = run_log.stop()
    if not leaks:
        run_log.path.unlink()
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"FAILED: the run's log {run_log.path} holds what is never logged:")
        for leak in leaks[:20]:
            reporter.write_line(f"  {leak}")


def make_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "mode": "development",
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "secret_file": tmp_path / "secret",
        "subject_key_file": tmp_path / "subject-key",
        "store": {"sqlite_path": tmp_path / "broker.db"},
        "keys": {"directory": tmp_path / "keys", "publish_lead_seconds": 0},
        # the background looks often whether SAML metadata is due (by the movable clock)
        "saml_sp": {"key_directory": tmp_path / "saml-keys", "metadata_check_seconds": 0.05},
        "backchannel": {"retry_base_seconds": 1, "poll_seconds": 0.05, "timeout_seconds": 2},
        "smtp": {"host": "127.0.0.1", "port": mail_sink().port, "security": "none"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return Settings.model_validate(data)


@dataclass
class RunningBroker:
    url: str
    clock: FrozenClock
    settings: Settings
    idp_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)

    async def add_client(self, client_id: str = "portal", **fields: Any) -> ClientRecord:
        """Register a portal straight in the store (the CLI does the same; it has its own test)."""
        method = fields.get("token_endpoint_auth_method", "client_secret_basic")
        secret = secrets.new_secret() if method.startswith("client_secret") else None
        record = ClientRecord(
            **{
                "client_id": client_id,
                "client_name": f"Portal {client_id}",
                "redirect_uris": (f"{PORTAL}/callback",),
                "post_logout_redirect_uris": (f"{PORTAL}/logged-out",),
                "token_endpoint_auth_method": method,
                "secret_hash": secrets.hash_secret(secret) if secret else None,
                "created_at": self.clock.now(),
                **fields,
            }
        )
        store = make_store(self.settings)
        await store.open()
        try:
            await store.clients.put(record)
        finally:
            await store.close()
        if secret:
            self.secrets[client_id] = secret
        return record

    async def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows straight from the broker's store, whichever the backend (`?` placeholders)."""
        store = make_store(self.settings)
        await store.open()
        try:
            return await store.connection.all(sql, params)
        finally:
            await store.close()


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


BACKENDS = ["sqlite", "postgresql"]


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


def start_broker(
    tmp_path: Path, keys: Path, sock: socket.socket | None = None, **overrides: Any
) -> Iterator[RunningBroker]:
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    shutil.copytree(keys, tmp_path / "keys")
    settings = make_settings(tmp_path, port, **overrides)
    clock = FrozenClock(time.time())
    with serve(create_app(settings, clock=clock), sock) as url:
        yield RunningBroker(url, clock, settings)


REPO_IDP_CONFIGS = Path(__file__).parents[1] / "idp_configs"
MOCK_IDP_SECRET = "mock-idp-secret-for-development-only"


ORG_SAML_DEFAULT_URL = "http://127.0.0.1:8004"  # the mock organisation SAML IdP in idp_configs/


def idp_configs_for(
    mock_url: str,
    target: Path,
    suomifi_url: str | None = None,
    org_saml_url: str | None = None,
    required_registration: Collection[str] = (),
) -> Path:
    """The committed idp_configs/, pointed at the mock IdPs on test ports, secrets inline.
    Without a mock Suomi.fi, the Suomi.fi IdP is left out (and its route with it); without a
    mock organisation SAML IdP, so are the organisations on SAML (and the broker then needs no
    SAML service provider). The IdPs in `required_registration` send a first login to the
    registration form (`registration: required`) instead of making the account at once."""
    target.mkdir()
    for path in REPO_IDP_CONFIGS.glob("*.yaml"):
        if path.name == "suomifi.yaml" and suomifi_url is None:
            continue
        text = path.read_text()
        if ORG_SAML_DEFAULT_URL in text:
            if org_saml_url is None:
                continue
            text = text.replace(ORG_SAML_DEFAULT_URL, org_saml_url)
        text = text.replace("http://127.0.0.1:8002", mock_url)
        if suomifi_url is None:
            text = text.replace("idps: [suomifi]", "idps: []")
        else:
            text = text.replace("http://127.0.0.1:8003", suomifi_url)
        text = re.sub(r"env: SOTE_BROKER_IDP_\w+_SECRET", f"value: {MOCK_IDP_SECRET}", text)
        text = text.replace("oidc:\n", "oidc:\n  timeout_seconds: 2\n")  # an IdP "down" test waits
        if path.stem in required_registration:
            text += "\nregistration: required\n"
        (target / path.name).write_text(text)
    return target


@dataclass
class IdPClock:
    """The mock IdPs' clock: real time (pysaml2 in the broker checks SAML times against it) plus
    an offset a test may set, e.g. for a person who logged in at the IdP two hours ago."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class JourneyWorld:
    """A broker with its login journey and the mock organisation IdP it logs people in with."""

    broker: RunningBroker
    idp_url: str
    idp_clock: IdPClock = field(default_factory=IdPClock)

    async def fault(self, org: str, fault: str, count: int = 1, **extra: Any) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                self.idp_url + "/_faults",
                json={"org": org, "fault": fault, "count": count, **extra},
            )
            response.raise_for_status()


@pytest.fixture(scope="session")
def mock_idp_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mock-idp-keys")


def serve_journey(
    tmp_path: Path,
    broker_keys: Path,
    mock_idp_keys: Path,
    org_saml_url: str | None = None,
    idp_clock: Callable[[], float] = time.time,
    required_registration: Collection[str] = (),
    **overrides: Any,
) -> Iterator[RunningBroker]:
    """A broker with the login journey and the mock organisation OIDC IdP it logs in with
    (`idp_url`); with `org_saml_url`, the organisations on SAML point there; `overrides` are
    more settings of the broker."""
    from mock_idps.oidc_idp import create_app as create_mock_idp

    broker_sock, idp_sock = bound_socket(), bound_socket()
    broker_url = f"http://127.0.0.1:{broker_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[broker_url + "/upstream/oidc/callback/{org}"],
        faults_enabled=True,
        key_dir=mock_idp_keys,
        clock=idp_clock,
    )
    configs = idp_configs_for(
        idp_base,
        tmp_path / "idp_configs",
        org_saml_url=org_saml_url,
        required_registration=required_registration,
    )
    with serve(mock, idp_sock) as idp_url:
        for running in start_broker(
            tmp_path, broker_keys, broker_sock, idp_configs=configs, **overrides
        ):
            running.idp_url = idp_url
            yield running


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


@dataclass
class SAMLWorld:
    """A broker with the Suomi.fi route, the mock Suomi.fi IdP trusting the broker's SP metadata.
    `stop_suomifi()` takes the mock down (an IdP that is down)."""

    broker: RunningBroker
    suomifi_url: str
    stop_suomifi: Callable[[], None] = lambda: None


@pytest.fixture(scope="session")
def saml_sp_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The broker's SAML SP key pair made once per run (RSA 3072 takes seconds)."""
    from broker.upstream.saml.sp_keys import ServiceProviderKeys

    directory = tmp_path_factory.mktemp("saml-sp") / "keys"
    ServiceProviderKeys.load_or_create(directory)
    return directory


LOA2_URI, LOA3_URI = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"
SAML_SP_SETTINGS: dict[str, Any] = {
    "organisation_names": {"fi": "Testiorganisaatio", "sv": "Testorganisation", "en": "Test org"},
    "organisation_url": "https://organisaatio.example",
    "service_names": {"fi": "Sote-tunnistus", "sv": "Sote-identifiering", "en": "Sote login"},
    "contact_email": "tekniikka@organisaatio.example",
    "support_email": "tuki@organisaatio.example",
    "entity_attributes": [
        {"name": "FinnishAuthMethod", "values": [LOA3_URI, LOA2_URI]},
        {
            "name": "urn:oid:1.2.246.517.3003.111.3",
            "friendly_name": "VtjVerificationRequired",
            "values": ["true"],
        },
    ],
}
"""What the broker's SP metadata says of its organisation, service and contacts in the tests."""


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


@dataclass
class OrgSAMLWorld(JourneyWorld):
    """Every organisation of idp_configs/: those on OIDC at the mock OIDC IdP (`idp_url`), those
    on SAML at the mock organisation SAML IdP (`org_saml_url`), which trusts the broker's SP
    metadata."""

    org_saml_url: str = ""

    async def saml_fault(self, org: str, fault: str, count: int = 1) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                self.org_saml_url + "/_faults", json={"org": org, "fault": fault, "count": count}
            )
            response.raise_for_status()


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


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


HUS_USER = ("maija.meikalainen", "testi1234")
HUS_USER_NAME = "Maija Meikäläinen"


async def choose(browser: httpx.AsyncClient, base: str, path: str, choice: str) -> httpx.Response:
    """One journey step: GET its page, POST its form with `choice`."""
    page = await browser.get(base + path)
    assert page.status_code == 200, page.text
    return await browser.post(base + path, data={**hidden_inputs(page.text), "choice": choice})


async def upstream_login(
    browser: httpx.AsyncClient,
    idp_authorize_url: str,
    user: tuple[str, str] = HUS_USER,
    *,
    register: bool = True,
) -> httpx.Response:
    """At the mock IdP: its login form (unless its own session answers), then back to the
    broker's callback; a person without an account registers there (unless `register` is
    False: then the callback's answer as it is)."""
    form_page = await browser.get(idp_authorize_url)
    if form_page.status_code in (302, 303):
        answer = await browser.get(form_page.headers["location"])
        return await register_if_new(browser, answer) if register else answer
    assert form_page.status_code == 200, form_page.text
    action = form_page.text.split('<form method="post" action="')[1].split('"')[0]
    if not action.startswith("http"):
        parts = urlsplit(idp_authorize_url)
        action = f"{parts.scheme}://{parts.netloc}{action}"
    posted = await browser.post(
        action, data={**hidden_inputs(form_page.text), "username": user[0], "password": user[1]}
    )
    assert posted.status_code in (302, 303), posted.text
    answer = await browser.get(posted.headers["location"])
    return await register_if_new(browser, answer) if register else answer


TEST_PHONE = "040 123 4567"
TEST_EMAIL = "testi.ammattilainen@example.fi"
TEST_PARTNER = "area:pirkanmaa"


async def register_if_new(
    browser: httpx.AsyncClient,
    answer: httpx.Response,
    *,
    phone: str = TEST_PHONE,
    email: str | None = None,
    partner: str = TEST_PARTNER,
) -> httpx.Response:
    """After an upstream login: a person without an account registers once (the form as the
    IdP pre-filled it, completed with `phone`, `email` and `partner` where it left them empty,
    then the code from the mail sink); returns the broker's answer that goes on to the portal."""
    if answer.status_code != 303 or answer.headers["location"] != "/account/register":
        return answer
    base = f"{answer.request.url.scheme}://{answer.request.url.netloc.decode()}"
    form_page = await browser.get(base + "/account/register")
    assert form_page.status_code == 200, form_page.text
    fields = hidden_inputs(form_page.text)
    typed_phone = _input_value(form_page.text, "phone") or phone
    typed_email = email or _input_value(form_page.text, "email") or TEST_EMAIL
    partners = re.findall(r'name="partner" value="([^"]+)"', form_page.text) or [partner]
    data = {
        **fields,
        "phone": typed_phone,
        "email": typed_email,
        "eligible": "yes",
        "action": "continue",
    }
    sent = await browser.post(base + "/account/register", data={**data, "partner": partners})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/account/confirm"
    code_page = await browser.get(base + "/account/confirm")
    assert code_page.status_code == 200, code_page.text
    code = last_code(typed_email)
    confirmed = await browser.post(
        base + "/account/confirm",
        data={**hidden_inputs(code_page.text), "code": code, "action": "confirm"},
    )
    assert confirmed.status_code == 303, confirmed.text
    return confirmed


def _input_value(html: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', html)
    return found.group(1) if found else ""


async def choose_organisation(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    group: str = "yliopistosairaanhoitopiirit",
    org: str = "hus",
    idp_prefix: str | None = None,
) -> str:
    """From the role page through the choice pages; returns the IdP's URL, which must start with
    `idp_prefix` (default: the organisation's authorization endpoint at the mock OIDC IdP)."""
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", group),
    ):
        assert (await choose(browser, broker.url, path, choice)).status_code == 303
    to_idp = await choose(browser, broker.url, "/login/organisation", org)
    assert to_idp.status_code == 303, to_idp.text
    location = str(to_idp.headers["location"])
    assert location.startswith(idp_prefix or f"{broker.idp_url}/{org}/authorize?"), location
    return location


async def walk_to_idp(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    authorize_url: str,
    group: str = "yliopistosairaanhoitopiirit",
    org: str = "hus",
) -> str:
    first = await browser.get(authorize_url)
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/login/role"
    return await choose_organisation(browser, broker, group, org)


async def log_in(
    browser: httpx.AsyncClient,
    broker: RunningBroker,
    authorize_url: str,
    user: tuple[str, str] = HUS_USER,
) -> httpx.Response:
    """The whole login from the portal's authorization URL: returns the broker's response that
    redirects back to the portal (at once when an SSO session answers)."""
    first = await browser.get(authorize_url)
    assert first.status_code == 303, first.text
    if first.headers["location"] != "/login/role":
        return first
    return await upstream_login(browser, await choose_organisation(browser, broker), user)


def _b64decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified (for looking, not trusting)."""
    header, payload, _ = token.split(".")
    return _b64decode(header), _b64decode(payload)


def tamper(token: str, **claims: Any) -> str:
    """The same JWS with changed claims and the original signature."""
    header, payload, signature = token.split(".")
    changed = {**_b64decode(payload), **claims}
    encoded = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def rsa_client_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-key-1", "alg": "RS256"})
