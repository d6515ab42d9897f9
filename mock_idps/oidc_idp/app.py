"""`create_app`: the mock organisation OIDC IdP as one Starlette app serving every organisation.

Each organisation of the users file is a complete OpenID Provider under `{base_url}/{org}`:

    GET       /{org}/.well-known/openid-configuration
    GET       /{org}/jwks
    GET|POST  /{org}/authorize        -> login form, or a code when the IdP session suffices
    POST      /{org}/login            (the login form's target)
    POST      /{org}/token
    GET|POST  /{org}/userinfo
    GET|POST  /{org}/logout
    GET|POST|DELETE /_faults          only with faults_enabled=True
    GET       /                       an index of issuers and test users, for people
    GET       /healthz
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mock_idps.oidc_idp import api_routes, login_routes
from mock_idps.oidc_idp.config import Client, load_config
from mock_idps.oidc_idp.faults import FaultBoard
from mock_idps.oidc_idp.grants import GrantStore
from mock_idps.oidc_idp.keys import load_keys
from mock_idps.oidc_idp.pages import Pages
from mock_idps.oidc_idp.provider import MockIdP
from mock_idps.oidc_idp.sessions import Signer


def create_app(
    base_url: str,
    users_file: Path | None = None,
    extra_redirect_uris: Sequence[str] = (),
    faults_enabled: bool = False,
    clock: Callable[[], float] = time.time,
    *,
    extra_post_logout_redirect_uris: Sequence[str] = (),
    extra_clients: Sequence[Client] = (),
    key_dir: Path | None = None,
    session_secret: str | None = None,
    iss_parameter: bool = True,
) -> Starlette:
    """Build the mock; `base_url` is its public URL (issuers are `base_url + "/" + org`).

    `extra_redirect_uris` (and `extra_post_logout_redirect_uris`) are added to every client, for
    tests whose relying party runs on a random port; `extra_clients` add or replace clients.
    Keys come from `key_dir/{org}.pem` (created when missing), or are new for each app.
    `iss_parameter=False` plays IdPs without RFC 9207 (no `iss` in authorization responses).
    """
    config = (
        load_config(users_file)
        .with_clients(extra_clients)
        .with_redirect_uris(extra_redirect_uris, extra_post_logout_redirect_uris)
    )
    idp = MockIdP(
        base_url=base_url.rstrip("/"),
        config=config,
        keys=load_keys(config.organisations, key_dir),
        grants=GrantStore(),
        faults=FaultBoard() if faults_enabled else None,
        signer=Signer(session_secret or secrets.token_urlsafe(32)),
        pages=Pages(),
        clock=clock,
        iss_parameter=iss_parameter,
    )
    app = Starlette(routes=_routes(faults_enabled))
    app.state.idp = idp
    return app


def _routes(faults_enabled: bool) -> list[Route]:
    routes = [
        Route("/", login_routes.index, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/{org}/.well-known/openid-configuration", api_routes.discovery, methods=["GET"]),
        Route("/{org}/jwks", api_routes.jwks, methods=["GET"]),
        Route("/{org}/authorize", login_routes.authorize, methods=["GET", "POST"]),
        Route("/{org}/login", login_routes.login, methods=["POST"]),
        Route("/{org}/token", api_routes.token, methods=["POST"]),
        Route("/{org}/userinfo", api_routes.userinfo, methods=["GET", "POST"]),
        Route("/{org}/logout", login_routes.logout, methods=["GET", "POST"]),
    ]
    if faults_enabled:
        routes.append(
            Route("/_faults", api_routes.faults_endpoint, methods=["GET", "POST", "DELETE"])
        )
    return routes


async def _healthz(_request: Request) -> Response:
    return PlainTextResponse("ok")
