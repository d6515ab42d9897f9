"""`create_app`: the MOCK organisation SAML IdPs as one Starlette app.

GET       /                          the organisations, their entity ids and test users
GET       /{org}/metadata            the organisation's IdP metadata, signed (RSA-SHA256)
GET|POST  /{org}/sso                 AuthnRequest (HTTP-Redirect or HTTP-POST) -> login form
GET|POST  /{org}/login               the login form (GET: another language; POST: log in)
GET|POST|DELETE /_faults             only with faults_enabled=True
POST      /_reload-sp-metadata       only with faults_enabled=True
GET       /healthz
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from mock_idps.org_saml_idp import routes, test_routes
from mock_idps.org_saml_idp.config import Organisation, load_organisations
from mock_idps.org_saml_idp.pages import Pages
from mock_idps.org_saml_idp.provider import MockOrgSAMLIdP, OrgEntity, org_entity
from mock_idps.saml_common.entity import build_server, fetch_metadata
from mock_idps.saml_common.faults import FaultBoard
from mock_idps.saml_common.keys import KeyStore
from mock_idps.saml_common.sessions import Signer
from mock_idps.saml_common.web import common_routes


def create_app(
    base_url: str,
    sp_metadata: Sequence[str | Path] = (),
    users_file: Path | None = None,
    key_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    *,
    faults_enabled: bool = False,
    session_secret: str | None = None,
) -> Starlette:
    """Build the mock; `base_url` is its public URL (entity ids `base_url/{org}/idp`).

    `sp_metadata` are files or http(s) URLs, fetched now (blocking). Each organisation's key pair
    comes from `key_dir` (`{org}-mock-saml-idp-TEST-ONLY.key`, created there when missing) or is
    new for each app. `faults_enabled` routes `/_faults` and `/_reload-sp-metadata`.
    """
    base_url = base_url.rstrip("/")
    secret = session_secret or secrets.token_urlsafe(32)
    metadata = fetch_metadata(sp_metadata)
    entities = {
        org_id: _org(base_url, org, metadata, key_dir, secret, faults_enabled)
        for org_id, org in load_organisations(users_file).items()
    }
    idp = MockOrgSAMLIdP(
        base_url=base_url,
        entities=entities,
        sp_metadata_sources=tuple(sp_metadata),
        pages=Pages(),
        clock=clock,
    )
    app = Starlette(routes=_routes(faults_enabled))
    app.state.idp = idp
    return app


def _org(
    base_url: str,
    org: Organisation,
    sp_metadata: Sequence[str],
    key_dir: Path | None,
    secret: str,
    faults_enabled: bool,
) -> OrgEntity:
    entity = org_entity(base_url, org)
    keys = KeyStore(key_dir, f"{org.org_id}-mock-saml-idp", entity.name)
    return OrgEntity(
        org=org,
        entity=entity,
        server=build_server(entity, keys.signing, sp_metadata),
        keys=keys,
        signer=Signer(secret, f"mock-org-saml-idp/{org.org_id}"),
        faults=FaultBoard() if faults_enabled else None,
    )


def _routes(faults_enabled: bool) -> list[Route]:
    return [
        Route("/", routes.index, methods=["GET"]),
        *common_routes(faults_enabled, test_routes.faults, test_routes.reload_sp_metadata),
        Route("/{org}/metadata", routes.metadata, methods=["GET"]),
        Route("/{org}/sso", routes.sso, methods=["GET", "POST"]),
        Route("/{org}/login", routes.login, methods=["GET", "POST"]),
    ]
