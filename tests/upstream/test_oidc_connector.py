"""OIDCConnector against the real mock organisation IdP (mock_idps/oidc_idp) over real HTTP.

Each test drives the browser's part with its own cookie-keeping httpx client: the connector's
authorization URL, the mock's login form, and the redirect back to the callback, whose query
parameters go to `finish()`. Broken answers come from the mock's test faults, so what refuses them
is the connector's own validation.
"""

from __future__ import annotations

import html
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
import yaml

from broker.claims.identity import RawIdentity
from broker.claims.mapping import normalise
from broker.clock import FrozenClock
from broker.errors import (
    ConfigError,
    TransactionError,
    UpstreamDeniedError,
    UpstreamError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.oidc import OIDCConnector, UpstreamRedirect
from broker.upstream.registry import IdP
from mock_idps.oidc_idp import create_app
from tests.servers import bound_socket, serve

ORG = "hus"
CALLBACK = "http://127.0.0.1:9/upstream/oidc/callback"
SECRET = "mock-idp-secret-for-development-only"
LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
USERS_FILE = Path(__file__).parents[2] / "mock_idps" / "test_users.yaml"


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    sub: str
    claims: dict[str, Any]


def first_user(org: str = ORG) -> Person:
    """The first test user of an organisation in the mock's users file."""
    data = yaml.safe_load(USERS_FILE.read_text(encoding="utf-8"))
    user = data["organisations"][org]["users"][0]
    return Person(user["username"], user["password"], user["sub"], user)


class MockTime:
    """The mock IdP's clock: real time plus an offset the tests move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class MockIdP:
    url: str
    time: MockTime


@contextmanager
def running_mock(sock: socket.socket, time_source: MockTime) -> Iterator[str]:
    host, port = sock.getsockname()
    app = create_app(
        f"http://{host}:{port}",
        users_file=USERS_FILE,
        extra_redirect_uris=[CALLBACK],
        faults_enabled=True,
        clock=time_source,
    )
    with serve(app, sock) as url:
        yield url


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockIdP]:
    time_source = MockTime()
    with running_mock(bound_socket(), time_source) as url:
        yield MockIdP(url, time_source)


@pytest.fixture
async def mock(mock_server: MockIdP) -> AsyncIterator[MockIdP]:
    mock_server.time.offset = 0
    yield mock_server
    async with httpx.AsyncClient() as client:
        await client.delete(f"{mock_server.url}/_faults")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(time.time())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client


def make_idp(
    base: str, *, org: str = ORG, claims: dict[str, Any] | None = None, **oidc: Any
) -> IdP:
    return IdP.model_validate(
        {
            "id": org,
            "names": {"fi": "HUS", "sv": "HUS", "en": "HUS"},
            "route": "organisation",
            "protocol": "oidc",
            "default_acr": LOA2,
            "oidc": {
                "issuer": f"{base}/{org}",
                "client_id": "sote-broker",
                "client_secret": {"value": SECRET},
                "scopes": ["openid", "profile", "email", "phone"],
                "timeout_seconds": 5,
                **oidc,
            },
            "claims": {"title": "title", "hetu": "hetu", **(claims or {})},
            "trust_identity_code": True,
        }
    )


def connector_for(
    idp: IdP, http: httpx.AsyncClient, clock: FrozenClock, **options: Any
) -> OIDCConnector:
    secret = idp.oidc.client_secret.resolve()
    return OIDCConnector(idp, http, clock, client_secret=secret, **options)


@pytest.fixture
def connector(mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock) -> OIDCConnector:
    return connector_for(make_idp(mock.url), http, clock)


async def arm(mock: MockIdP, fault: str, **extra: Any) -> None:
    async with httpx.AsyncClient() as client:
        body = {"org": ORG, "fault": fault, "count": 1, **extra}
        response = await client.post(f"{mock.url}/_faults", json=body)
    assert response.status_code < 300, response.text


def hidden_inputs(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in found}


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return dict(parse_qsl(urlsplit(location).query))


async def log_in(
    browser: httpx.AsyncClient, url: str, user: Person | None = None
) -> dict[str, str]:
    """The browser's part: the IdP's login form (unless its session answers at once), filled in
    with a test user; returns the query parameters of the redirect back to the callback."""
    user = user or first_user()
    page = await browser.get(url)
    if page.status_code in (302, 303):
        return callback_params(page)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    form = hidden_inputs(page.text) | {"username": user.username, "password": user.password}
    answer = await browser.post(urljoin(str(page.url), html.unescape(action[1])), data=form)
    return callback_params(answer)


async def login_through(
    connector: OIDCConnector, browser: httpx.AsyncClient, **start: Any
) -> RawIdentity:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, **start))
    return await connector.finish(await log_in(browser, started.url), started.saved)


def query_of(started: UpstreamRedirect) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(started.url).query))


def without(url: str, *names: str) -> str:
    """The same URL without some query parameters: an IdP (or browser) that ignores them."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in names]
    return str(httpx.URL(parts._replace(query="").geturl(), params=kept))


# -- the happy path -----------------------------------------------------------------------------
async def test_login_yields_the_identity_the_idp_vouches_for(
    connector: OIDCConnector, browser: httpx.AsyncClient, mock: MockIdP, clock: FrozenClock
) -> None:
    user = first_user()
    raw = await login_through(connector, browser)
    assert raw.idp_id == ORG
    assert raw.issuer == f"{mock.url}/{ORG}"
    assert raw.subject == user.sub
    assert raw.acr == LOA2
    assert raw.amr == ("pwd",)
    assert raw.auth_time is not None and abs(raw.auth_time - clock.now()) < 5
    assert raw.claims["email"] == user.claims["email"]
    assert raw.claims["title"] == user.claims["claims"]["title"]
    assert not {"nonce", "aud", "exp", "iat", "at_hash", "iss"} & set(raw.claims)

    identity = normalise(make_idp(mock.url), raw)
    assert identity.name == user.claims["name"]
    assert identity.given_name == user.claims["given_name"]
    assert identity.family_name == user.claims["family_name"]
    assert identity.phone_number == user.claims["phone_number"]
    assert identity.title == user.claims["claims"]["title"]
    assert identity.hetu == user.claims["claims"]["hetu"]
    assert identity.organisation_id == ORG
    assert identity.acr == LOA2


async def test_authorization_request_carries_state_nonce_and_pkce(
    connector: OIDCConnector, mock: MockIdP, clock: FrozenClock
) -> None:
    started = await connector.start(
        UpstreamLogin(
            redirect_uri=CALLBACK,
            prompt=("login", "consent"),
            max_age=300,
            login_hint="maija.meikalainen",
            acr_values=(LOA3, LOA2),
            ui_locales="sv fi",
        )
    )
    assert started.url.startswith(f"{mock.url}/{ORG}/")
    query = query_of(started)
    saved = started.saved
    assert query["response_type"] == "code"
    assert query["client_id"] == "sote-broker"
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"] == "openid profile email phone"
    assert query["state"] == saved["state"] and len(saved["state"]) >= 22  # >= 128 bits
    assert query["nonce"] == saved["nonce"] and saved["nonce"] != saved["state"]
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] != saved["code_verifier"]
    assert query["prompt"] == "login"  # only login and none go upstream
    assert query["max_age"] == "300"
    assert query["login_hint"] == "maija.meikalainen"
    assert query["acr_values"] == f"{LOA3} {LOA2}"
    assert query["ui_locales"] == "sv fi"
    assert saved["redirect_uri"] == CALLBACK
    assert saved["prompt"] == ["login"]
    assert saved["max_age"] == 300
    assert saved["acr_values"] == [LOA3, LOA2]
    assert saved["started_at"] == clock.now()
    again = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    assert again.saved["state"] != saved["state"]
    assert "prompt" not in query_of(again) and "max_age" not in query_of(again)


async def test_requested_acr_is_returned(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    raw = await login_through(connector, browser, acr_values=[LOA3])
    assert raw.acr == LOA3


async def test_acr_mapping_goes_both_ways(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    idp = make_idp(mock.url, claims={"acr_values": {LOA3: "loa3", LOA2: "loa2"}})
    connector = connector_for(idp, http, clock)
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, acr_values=["loa3"]))
    assert query_of(started)["acr_values"] == LOA3  # in the IdP's own words
    raw = await connector.finish(await log_in(browser, started.url), started.saved)
    assert raw.acr == "loa3"


async def test_client_secret_post(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    idp = make_idp(mock.url, token_endpoint_auth_method="client_secret_post")
    raw = await login_through(connector_for(idp, http, clock), browser)
    assert raw.subject == first_user().sub


async def test_without_userinfo_the_id_token_claims_suffice(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    idp = make_idp(mock.url, use_userinfo=False)
    raw = await login_through(connector_for(idp, http, clock), browser)
    assert raw.subject == first_user().sub
    assert raw.claims.get("email") == first_user().claims["email"]


async def test_discovery_is_cached_until_the_ttl_passes(
    mock: MockIdP, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    seen: list[str] = []

    async def count(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        connector = connector_for(make_idp(mock.url), http, clock, metadata_ttl=600)
        await login_through(connector, browser)
        await login_through(connector, browser)
        clock.advance(601)
        await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    discovery = f"/{ORG}/.well-known/openid-configuration"
    assert seen.count(discovery) == 2
    assert sum(path.endswith("/jwks") for path in seen) == 1


# -- broken answers from the IdP -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "error", "check"),
    [
        ("bad_signature", UpstreamResponseError, "signature"),
        ("wrong_issuer", UpstreamResponseError, "iss"),
        ("wrong_audience", UpstreamResponseError, "aud"),
        ("expired", UpstreamResponseError, "exp"),
        ("nonce_mismatch", UpstreamResponseError, "nonce"),
        ("missing_nonce", UpstreamResponseError, "nonce"),
        ("no_id_token", UpstreamResponseError, "without id_token"),
        ("token_error", UpstreamResponseError, "error=invalid_grant"),
        ("token_garbage", UpstreamUnavailableError, "not JSON"),
    ],
)
async def test_each_fault_is_refused(
    connector: OIDCConnector,
    browser: httpx.AsyncClient,
    mock: MockIdP,
    fault: str,
    error: type[UpstreamError],
    check: str,
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, started.url)
    await arm(mock, fault)
    with pytest.raises(error) as caught:
        await connector.finish(params, started.saved)
    assert type(caught.value) is error
    assert check in caught.value.detail
    assert params["code"] not in caught.value.detail


async def test_slow_token_endpoint_is_unavailable(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    connector = connector_for(make_idp(mock.url, timeout_seconds=0.5), http, clock)
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, started.url)
    await arm(mock, "slow_token", seconds=2)
    began = time.monotonic()
    with pytest.raises(UpstreamUnavailableError, match="Timeout"):
        await connector.finish(params, started.saved)
    assert time.monotonic() - began < 1.5


async def test_idp_down_is_unavailable(http: httpx.AsyncClient, clock: FrozenClock) -> None:
    sock = bound_socket()  # bound, never listening: connections are refused
    host, port = sock.getsockname()
    sock.close()
    connector = connector_for(make_idp(f"http://{host}:{port}"), http, clock)
    with pytest.raises(UpstreamUnavailableError, match="ConnectError") as caught:
        await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_wrong_client_secret_is_refused(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    idp = make_idp(mock.url)
    connector = OIDCConnector(idp, http, clock, client_secret="not-the-secret")
    with pytest.raises(UpstreamResponseError, match="error=invalid_client"):
        await login_through(connector, browser)


async def test_discovery_issuer_must_be_the_configured_issuer(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    other = f"{mock.url}/oys/.well-known/openid-configuration"
    connector = connector_for(make_idp(mock.url, discovery_url=other), http, clock)
    with pytest.raises(UpstreamResponseError, match="discovery issuer"):
        await connector.start(UpstreamLogin(redirect_uri=CALLBACK))


async def test_production_refuses_plain_http_endpoints_found_in_discovery(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """The mock's discovery names http endpoints: production (https_only) logs nobody in
    through them, development does."""
    production = connector_for(make_idp(mock.url), http, clock, https_only=True)
    with pytest.raises(
        UpstreamResponseError, match="discovery: authorization_endpoint is not https"
    ):
        await production.start(UpstreamLogin(redirect_uri=CALLBACK))
    development = connector_for(make_idp(mock.url), http, clock)
    assert (await development.start(UpstreamLogin(redirect_uri=CALLBACK))).url.startswith(mock.url)


async def test_a_code_for_another_issuer_is_refused(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    """Mix-up: the browser brings back an answer from OYS to a login started at HUS."""
    hus = connector_for(make_idp(mock.url), http, clock)
    oys = connector_for(make_idp(mock.url, org="oys"), http, clock)
    at_hus = await hus.start(UpstreamLogin(redirect_uri=CALLBACK))
    at_oys = await oys.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, at_oys.url, first_user("oys"))
    params["state"] = at_hus.saved["state"]
    with pytest.raises(UpstreamResponseError, match="callback iss"):
        await hus.finish(params, at_hus.saved)


# -- the callback ---------------------------------------------------------------------------------
async def test_state_mismatch_is_refused(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, started.url)
    with pytest.raises(UpstreamResponseError, match="state"):
        await connector.finish({**params, "state": "x" + params["state"]}, started.saved)
    without_state = {k: v for k, v in params.items() if k != "state"}
    with pytest.raises(UpstreamResponseError, match="state"):
        await connector.finish(without_state, started.saved)


async def test_a_callback_for_another_login_is_refused(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    """Login CSRF: the attacker's own callback, replayed into the victim's transaction."""
    attacker = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    victim = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, attacker.url)
    with pytest.raises(UpstreamResponseError, match="state"):
        await connector.finish(params, victim.saved)


async def test_error_callback_is_denied(connector: OIDCConnector, mock: MockIdP) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = {"error": "access_denied", "state": started.saved["state"], "iss": f"{mock.url}/hus"}
    with pytest.raises(UpstreamDeniedError) as caught:
        await connector.finish(params, started.saved)
    assert caught.value.detail == "hus: IdP answered error=access_denied"


async def test_error_code_is_not_copied_to_the_log_when_odd(
    connector: OIDCConnector, mock: MockIdP
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = {
        "error": "x\nFAKE LOG LINE 010280-952L",
        "state": started.saved["state"],
        "iss": f"{mock.url}/hus",
    }
    with pytest.raises(UpstreamDeniedError) as caught:
        await connector.finish(params, started.saved)
    assert "FAKE" not in caught.value.detail


async def test_prompt_none_answer_login_required_is_denied(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, prompt=["none"]))
    params = callback_params(await browser.get(started.url))
    with pytest.raises(UpstreamDeniedError, match="error=login_required"):
        await connector.finish(params, started.saved)


async def test_forged_error_callback_with_wrong_state_is_not_trusted(
    connector: OIDCConnector, mock: MockIdP
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = {"error": "access_denied", "state": "guessed", "iss": f"{mock.url}/hus"}
    with pytest.raises(UpstreamResponseError, match="state"):
        await connector.finish(params, started.saved)


async def test_callback_without_code_or_iss_is_refused(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, started.url)
    no_code = {k: v for k, v in params.items() if k != "code"}
    with pytest.raises(UpstreamResponseError, match="without code"):
        await connector.finish(no_code, started.saved)
    # The mock advertises authorization_response_iss_parameter_supported: iss is then required.
    no_iss = {k: v for k, v in params.items() if k != "iss"}
    with pytest.raises(UpstreamResponseError, match="without iss"):
        await connector.finish(no_iss, started.saved)


async def test_code_is_single_use(connector: OIDCConnector, browser: httpx.AsyncClient) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    params = await log_in(browser, started.url)
    await connector.finish(params, started.saved)
    with pytest.raises(UpstreamResponseError, match="error=invalid_grant"):
        await connector.finish(params, started.saved)


async def test_saved_state_of_another_idp_is_refused(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, connector: OIDCConnector
) -> None:
    oys = connector_for(make_idp(mock.url, org="oys"), http, clock)
    started = await oys.start(UpstreamLogin(redirect_uri=CALLBACK))
    with pytest.raises(TransactionError):
        await connector.finish({"state": started.saved["state"]}, started.saved)
    with pytest.raises(TransactionError):
        await connector.finish({}, {"state": "only"})


# -- what the portal asked for --------------------------------------------------------------------
async def test_max_age_exceeded_is_refused(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    connector = connector_for(make_idp(mock.url), http, clock, clock_skew=5)
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, max_age=30))
    params = await log_in(browser, started.url)
    clock.advance(60)  # the person took their time; the authentication is now 60 s old
    with pytest.raises(UpstreamRequirementError, match="max_age"):
        await connector.finish(params, started.saved)


async def test_max_age_met_is_accepted(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    raw = await login_through(connector, browser, max_age=30)
    assert raw.auth_time is not None


async def test_old_sso_session_does_not_pass_for_max_age(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    """An IdP (or a tampered URL) that answers from an old session despite max_age."""
    connector = connector_for(make_idp(mock.url), http, clock, clock_skew=5)
    await login_through(connector, browser)
    mock.time.offset += 120
    clock.advance(120)
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, max_age=60))
    params = await log_in(browser, without(started.url, "max_age"))
    with pytest.raises(UpstreamRequirementError, match="max_age"):
        await connector.finish(params, started.saved)


async def test_prompt_login_needs_a_fresh_login(
    mock: MockIdP, http: httpx.AsyncClient, clock: FrozenClock, browser: httpx.AsyncClient
) -> None:
    connector = connector_for(make_idp(mock.url), http, clock, clock_skew=5)
    await login_through(connector, browser)
    mock.time.offset += 120
    clock.advance(120)
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, prompt=["login"]))
    params = await log_in(browser, without(started.url, "prompt"))  # answered from the session
    with pytest.raises(UpstreamRequirementError, match="prompt=login"):
        await connector.finish(params, started.saved)

    raw = await login_through(connector, browser, prompt=["login"])  # the IdP asks again
    assert raw.auth_time is not None and raw.auth_time >= clock.now() - 5


async def test_acr_not_among_the_requested_is_refused(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    started = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, acr_values=[LOA3]))
    params = await log_in(browser, without(started.url, "acr_values"))
    with pytest.raises(UpstreamRequirementError, match="acr"):
        await connector.finish(params, started.saved)


async def test_unsupported_acr_falls_back_and_is_refused(
    connector: OIDCConnector, browser: httpx.AsyncClient
) -> None:
    with pytest.raises(UpstreamRequirementError, match="acr"):
        await login_through(connector, browser, acr_values=["urn:example:loa4"])


# -- keys -----------------------------------------------------------------------------------------
async def test_rotated_idp_key_is_fetched_once_more(
    http: httpx.AsyncClient,
    clock: FrozenClock,
    browser: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The IdP restarts with a new signing key while the connector still caches the old JWKS."""
    first = bound_socket()
    host, port = first.getsockname()
    base = f"http://{host}:{port}"
    connector = connector_for(make_idp(base), http, clock)
    with running_mock(first, MockTime()):
        await login_through(connector, browser)
    browser.cookies.clear()
    with (
        caplog.at_level(logging.INFO, logger="broker.upstream.oidc"),
        running_mock(socket_at(host, port), MockTime()),
    ):
        raw = await login_through(connector, browser)
    assert raw.subject == first_user().sub
    assert "kid not in the cached JWKS" in caplog.text


def socket_at(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


# -- configuration --------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_symmetric_or_no_signature_is_refused_at_start_up(
    alg: str, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    idp = make_idp("http://127.0.0.1:9", id_token_algs=["RS256", alg])
    with pytest.raises(ConfigError, match=alg):
        OIDCConnector(idp, http, clock, client_secret=SECRET)
