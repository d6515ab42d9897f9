"""The protocol-neutral identity in the middle of the broker: what an upstream IdP said, normalised.

Upstream connectors produce a `RawIdentity` (whatever the IdP sent, plus what was checked);
`broker.claims.mapping` turns it into an `Identity` by the IdP's claim mapping in `idp_configs/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker.store.records import UpstreamSession


@dataclass(frozen=True)
class RawIdentity:
    """An upstream answer after every protocol check passed; claims exactly as the IdP sent them."""

    idp_id: str
    issuer: str
    subject: str
    claims: dict[str, Any]
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: float | None = None
    session: UpstreamSession | None = None
    """The IdP's session, for single logout (SAML: NameID and SessionIndex); None for OIDC."""


@dataclass(frozen=True)
class Identity:
    """One person, however they came. `hetu` (henkilötunnus) is sensitive: never logged."""

    idp_id: str
    issuer: str
    subject: str
    route: str  # "organisation" | "personal"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    organisation_id: str | None = None
    organisation_name: str | None = None
    title: str | None = None
    hetu: str | None = field(default=None, repr=False)
    municipality_code: str | None = field(default=None, repr=False)
    """The home municipality, only to suggest it at registration: never released (it is
    address-like), and absent for a person with address protection."""
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: float | None = None

    def profile_claims(self) -> dict[str, Any]:
        """OIDC standard claims for scopes profile/email/phone, plus the broker's own ones."""
        claims = {
            "name": self.name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "phone_number": self.phone_number,
            "organisation_id": self.organisation_id,
            "organisation_name": self.organisation_name,
            "title": self.title,
            "route": self.route,
        }
        return {k: v for k, v in claims.items() if v is not None}
