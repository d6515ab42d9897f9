"""What the journey needs of an upstream connector, whatever its protocol; the connectors are
built by `broker.assembly.idps`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from broker.claims.identity import RawIdentity
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saved_login import UpstreamRedirect


class Connector(Protocol):
    """What the journey needs from any upstream protocol (OIDC now, SAML later)."""

    async def start(self, login: UpstreamLogin) -> UpstreamRedirect: ...

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity: ...


@dataclass(frozen=True)
class SAMLContext:
    """What every SAML connector shares: the broker's SP, its ACS, the replay cache."""

    sp: ServiceProvider
    acs_url: str
    remember_assertion: Callable[[str, str, float], Awaitable[bool]]
