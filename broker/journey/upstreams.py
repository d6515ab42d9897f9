"""One connector per configured upstream IdP, built at start-up with its secret resolved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from broker.claims.identity import RawIdentity
from broker.clock import Clock
from broker.errors import ConfigError
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.oidc import OIDCConnector
from broker.upstream.registry import Registry
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saved_login import UpstreamRedirect


class Connector(Protocol):
    """What the journey needs from any upstream protocol (OIDC now, SAML later)."""

    async def start(self, login: UpstreamLogin) -> UpstreamRedirect: ...

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity: ...


def build_connectors(
    registry: Registry,
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    clock_skew: int,
    saml: SAMLContext | None = None,
    https_only: bool = False,
) -> dict[str, Connector]:
    """Resolve every enabled OIDC IdP's secret now, so a missing one stops start-up, not a
    login. SAML IdPs need the broker's service-provider context."""
    connectors: dict[str, Connector] = {}
    for idp in registry.idps():
        if idp.oidc is not None:
            secret = idp.oidc.client_secret.resolve()
            connectors[idp.id] = OIDCConnector(
                idp,
                http,
                clock,
                client_secret=secret,
                clock_skew=clock_skew,
                https_only=https_only,
            )
        elif idp.saml is not None:
            if saml is None:
                raise ConfigError(f"{idp.id}.yaml: a SAML IdP needs the SAML service provider")
            connectors[idp.id] = SAMLConnector(
                idp,
                saml.sp,
                clock,
                acs_url=saml.acs_url,
                remember_assertion=saml.remember_assertion,
                clock_skew=clock_skew,
                http=http,
                require_encrypted_assertions=idp.saml.want_assertions_encrypted,
            )
    return connectors


@dataclass(frozen=True)
class SAMLContext:
    """What every SAML connector shares: the broker's SP, its ACS, the replay cache."""

    sp: ServiceProvider
    acs_url: str
    remember_assertion: Callable[[str, str, float], Awaitable[bool]]
