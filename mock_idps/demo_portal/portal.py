"""What the pages share: the portal's configuration, its OIDC client and its stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import jinja2
from starlette.requests import Request

from mock_idps.demo_portal.logout_tokens import LogoutTokenValidator
from mock_idps.demo_portal.sessions import ProfileStore, SessionStore


@dataclass(frozen=True)
class PortalConfig:
    issuer: str
    client_id: str
    public_url: str

    @property
    def redirect_uri(self) -> str:
        return self.public_url + "/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.public_url + "/"


@dataclass
class Portal:
    config: PortalConfig
    oidc: Any  # authlib's StarletteOAuth2App (authlib ships no type information)
    sessions: SessionStore
    profiles: ProfileStore
    logout_tokens: LogoutTokenValidator
    templates: jinja2.Environment


def portal_of(request: Request) -> Portal:
    return cast(Portal, request.app.state.portal)
