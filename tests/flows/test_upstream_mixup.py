"""Mix-up defence towards the organisation OIDC IdPs (RFC 9700 §4.4): each IdP returns to its own
redirect URI, `/upstream/oidc/callback/{idp_id}`, and an answer there continues only a login that
went to that IdP; an `iss` in the answer (RFC 9207) must be the IdP's issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.brokers import RunningBroker, start_broker
from tests.login_walk import upstream_login, walk_to_idp
from tests.portal_client import portal_client, start
from tests.servers import bound_socket, serve
from tests.worlds import JourneyWorld, idp_configs_for

PIRHA_USER = ("tiina.laine", "testi1234")


class Recorder:
    """The real mock IdP, with a note of each request it is sent (to see where a code went)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.fixture
def without_iss(
    tmp_path: Path, broker_keys: Path, mock_idp_keys: Path
) -> Iterator[tuple[RunningBroker, Recorder]]:
    """Organisation IdPs without RFC 9207 (no `iss` in their answers): only the redirect URI
    tells the broker which IdP answered."""
    from mock_idps.oidc_idp import create_app as create_mock_idp

    broker_sock, idp_sock = bound_socket(), bound_socket()
    broker_url = f"http://127.0.0.1:{broker_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = Recorder(
        create_mock_idp(
            idp_base,
            extra_redirect_uris=[broker_url + "/upstream/oidc/callback/{org}"],
            key_dir=mock_idp_keys,
            iss_parameter=False,
        )
    )
    configs = idp_configs_for(idp_base, tmp_path / "idp_configs")
    with serve(mock, idp_sock) as idp_url:
        for running in start_broker(tmp_path, broker_keys, broker_sock, idp_configs=configs):
            running.idp_url = idp_url
            yield running, mock


def redirected_to(authorize_url: str, org: str, broker: RunningBroker) -> str:
    """The mix-up attacker's move: the broker's request for one IdP, sent on to another, with
    the redirect URI that other IdP has registered for the broker."""
    parts = urlsplit(authorize_url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params["redirect_uri"] = f"{broker.url}/upstream/oidc/callback/{org}"
    path = parts.path.rsplit("/", 2)[0] + f"/{org}/authorize"
    return f"{parts.scheme}://{parts.netloc}{path}?{urlencode(params)}"


async def test_an_answer_at_another_idps_redirect_uri_is_refused_and_its_code_goes_nowhere(
    without_iss: tuple[RunningBroker, Recorder], browser: httpx.AsyncClient
) -> None:
    broker, idp = without_iss
    await broker.add_client()
    auth = await start(portal_client(broker))
    to_hus = await walk_to_idp(browser, broker, auth.url)  # the login went to HUS ...
    answer = await upstream_login(  # ... but PIRHA answers, at its own redirect URI
        browser, redirected_to(to_hus, "pirha", broker), PIRHA_USER, register=False
    )
    assert answer.request.url.path == "/upstream/oidc/callback/pirha"
    assert "iss" not in answer.request.url.params
    assert answer.status_code == 502
    assert "location" not in answer.headers
    assert 'href="/login/role"' in answer.text  # the page offers the routes again
    assert not [seen for seen in idp.seen if seen.endswith("/token")]  # no IdP got the code


async def test_the_callback_of_the_idp_the_login_went_to_still_works(
    without_iss: tuple[RunningBroker, Recorder], browser: httpx.AsyncClient
) -> None:
    broker, idp = without_iss
    await broker.add_client()
    auth = await start(portal_client(broker))
    to_hus = await walk_to_idp(browser, broker, auth.url)
    assert parse_qs(urlsplit(to_hus).query)["redirect_uri"] == [
        broker.url + "/upstream/oidc/callback/hus"
    ]
    back = await upstream_login(browser, to_hus)
    assert back.status_code == 303
    assert back.headers["location"].startswith("http://127.0.0.1:9/callback?code=")
    assert "POST /hus/token" in idp.seen


async def test_an_iss_that_is_not_the_idps_issuer_is_refused(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    to_hus = await walk_to_idp(browser, world.broker, auth.url)
    state = parse_qs(urlsplit(to_hus).query)["state"][0]
    answer = await browser.get(
        world.broker.url + "/upstream/oidc/callback/hus",
        params={"code": "x", "state": state, "iss": world.idp_url + "/pirha"},
    )
    assert answer.status_code == 502
    assert "location" not in answer.headers


async def test_the_shared_callback_path_is_gone(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker))
    to_hus = await walk_to_idp(browser, world.broker, auth.url)
    state = parse_qs(urlsplit(to_hus).query)["state"][0]
    answer = await browser.get(
        world.broker.url + "/upstream/oidc/callback", params={"code": "x", "state": state}
    )
    assert answer.status_code == 404
