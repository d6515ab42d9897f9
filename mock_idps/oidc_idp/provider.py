"""What every endpoint shares: configuration, keys, grants, faults, the signer, pages and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

from mock_idps.oidc_idp.config import IdPConfig, Organisation
from mock_idps.oidc_idp.faults import FaultBoard
from mock_idps.oidc_idp.grants import GrantStore
from mock_idps.oidc_idp.keys import OrgKeys
from mock_idps.oidc_idp.pages import Pages
from mock_idps.oidc_idp.sessions import CookieScope, Signer


@dataclass
class MockIdP:
    base_url: str
    config: IdPConfig
    keys: dict[str, OrgKeys]
    grants: GrantStore
    faults: FaultBoard | None  # None: faults are disabled
    signer: Signer
    pages: Pages
    clock: Callable[[], float]
    iss_parameter: bool = True
    """RFC 9207: `iss` in authorization responses, and discovery says so. False plays an IdP
    without RFC 9207 (many are), against which only distinct redirect URIs stop a mix-up."""

    def response_iss(self, org_id: str) -> str | None:
        return self.issuer(org_id) if self.iss_parameter else None

    def issuer(self, org_id: str) -> str:
        return f"{self.base_url}/{org_id}"

    def endpoint(self, org_id: str, name: str) -> str:
        return f"{self.issuer(org_id)}/{name}"

    def now(self) -> int:
        return int(self.clock())

    def cookie_scope(self, org_id: str) -> CookieScope:
        issuer = urlsplit(self.issuer(org_id))
        return CookieScope(path=issuer.path, secure=issuer.scheme == "https")


def idp_of(request: Request) -> MockIdP:
    return cast(MockIdP, request.app.state.idp)


def org_of(request: Request) -> Organisation:
    """The organisation named by the `{org}` path segment; 404 for any other name."""
    org = idp_of(request).config.organisations.get(request.path_params["org"])
    if org is None:
        raise HTTPException(404, "unknown organisation")
    return org
