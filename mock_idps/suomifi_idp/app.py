"""`create_app`: the MOCK Suomi.fi e-Identification IdP as one Starlette app.

GET       /metadata               the IdP's metadata (validUntil a day on), signed (RSA-SHA256)
                                  by its metadata signing key (`<key_dir>/suomifi-mock-idp-
                                  metadata-TEST-ONLY.crt` is what an SP configures)
GET|POST  /sso                    AuthnRequest (HTTP-Redirect or HTTP-POST) -> picker
GET|POST  /login                  the picker (GET: another language; POST: identify)
GET|POST  /slo                    an SP's LogoutRequest (answered) or LogoutResponse
GET|POST|DELETE /_faults          only with faults_enabled=True
POST      /_reload-sp-metadata    only with faults_enabled=True
GET       /_idp-logout?sp=ID      only with faults_enabled=True: the mock's own LogoutRequest
POST      /_key-rollover          only with faults_enabled=True: {"step": "publish" | "switch" |
                                  "retire"}, one step of a signing-key rollover
GET       /healthz
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from mock_idps.saml_common.entity import build_server, fetch_metadata
from mock_idps.saml_common.faults import FaultBoard
from mock_idps.saml_common.keys import KeyStore
from mock_idps.saml_common.sessions import Signer
from mock_idps.saml_common.web import common_routes
from mock_idps.suomifi_idp import routes, test_routes
from mock_idps.suomifi_idp.pages import Pages
from mock_idps.suomifi_idp.persons import load_persons
from mock_idps.suomifi_idp.provider import KEY_NAME, ORGANISATION, MockSuomifiIdP, entity
from mock_idps.suomifi_idp.sessions import NAMESPACE


def create_app(
    base_url: str,
    sp_metadata: Sequence[str | Path] = (),
    persons_file: Path | None = None,
    key_dir: Path | None = None,
    encrypt_assertions: bool = True,
    clock: Callable[[], float] = time.time,
    *,
    faults_enabled: bool = False,
    session_secret: str | None = None,
) -> Starlette:
    """Build the mock; `base_url` is its public URL (entity id `base_url + "/idp"`).

    `sp_metadata` are files or http(s) URLs, fetched now (blocking). The key pair comes from
    `key_dir` (created there when missing) or is new for each app. `faults_enabled` routes the
    test endpoints `/_faults`, `/_reload-sp-metadata`, `/_idp-logout` and `/_key-rollover`.
    """
    base_url = base_url.rstrip("/")
    keys = KeyStore(key_dir, KEY_NAME, ORGANISATION)
    idp = MockSuomifiIdP(
        base_url=base_url,
        server=build_server(entity(base_url), keys.signing, fetch_metadata(sp_metadata)),
        keys=keys,
        persons=load_persons(persons_file),
        sp_metadata_sources=tuple(sp_metadata),
        encrypt_assertions=encrypt_assertions,
        faults=FaultBoard() if faults_enabled else None,
        signer=Signer(session_secret or secrets.token_urlsafe(32), NAMESPACE),
        pages=Pages(),
        clock=clock,
    )
    app = Starlette(routes=_routes(faults_enabled))
    app.state.idp = idp
    return app


def _routes(faults_enabled: bool) -> list[Route]:
    routes_ = [
        Route("/metadata", routes.metadata, methods=["GET"]),
        Route("/sso", routes.sso, methods=["GET", "POST"]),
        Route("/login", routes.login, methods=["GET", "POST"]),
        Route("/slo", routes.slo, methods=["GET", "POST"]),
        *common_routes(faults_enabled, test_routes.faults, test_routes.reload_sp_metadata),
    ]
    if faults_enabled:
        routes_.append(Route("/_idp-logout", test_routes.idp_logout, methods=["GET"]))
        routes_.append(Route("/_key-rollover", test_routes.key_rollover, methods=["POST"]))
    return routes_
