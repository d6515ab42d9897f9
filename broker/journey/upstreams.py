"""One connector per configured upstream IdP, built at start-up with its secret resolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx

from broker.claims.identity import RawIdentity
from broker.clock import Clock
from broker.upstream.oidc import OIDCConnector
from broker.upstream.registry import Registry


class Connector(Protocol):
    """What the journey needs from any upstream protocol (OIDC now, SAML later)."""

    async def start(
        self,
        *,
        redirect_uri: str,
        prompt: Sequence[str] = (),
        max_age: int | None = None,
        login_hint: str | None = None,
        acr_values: Sequence[str] = (),
        ui_locales: str | None = None,
        relay_state: str | None = None,
    ) -> Any: ...

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity: ...


def build_connectors(
    registry: Registry, http: httpx.AsyncClient, clock: Clock, *, clock_skew: int
) -> dict[str, Connector]:
    """Resolve every enabled OIDC IdP's secret now, so a missing one stops start-up, not a
    login."""
    connectors: dict[str, Connector] = {}
    for idp in registry.idps():
        if idp.oidc is not None:
            connectors[idp.id] = OIDCConnector(
                idp,
                http,
                clock,
                client_secret=idp.oidc.client_secret.resolve(),
                clock_skew=clock_skew,
            )
    return connectors
