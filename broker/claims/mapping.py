"""From what an upstream IdP said to one normalised `Identity`, by that IdP's claim mapping.

The mapping is data (`claims:` in `idp_configs/<idp>.yaml`): for each normalised field, the name
of the upstream claim that fills it, or nothing. Only strings count; they are stripped, and an
empty string is no value. `hetu` (henkilötunnus, the national identity code) is read only when
the IdP's mapping names a claim for it and the IdP is trusted for it (`trust_identity_code`):
an untrusted IdP's code is nobody's proof of who the person is, so it neither finds an account,
nor keeps two people apart, nor reaches a portal as if it were verified.

The home municipality is read only for a person without address protection (turvakielto): when
the IdP's protection flag is set, or cannot be read as clearly unset, nothing address-like is
kept, whatever else the IdP sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from broker.claims.identity import Identity, RawIdentity


class ClaimMapping(BaseModel):
    """Upstream claim names for each normalised field; a field left out is not mapped.
    (`claims:` in an IdP's config.)"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = "name"
    given_name: str | None = "given_name"
    family_name: str | None = "family_name"
    email: str | None = "email"
    phone_number: str | None = "phone_number"
    title: str | None = None
    hetu: str | None = None
    municipality_code: str | None = None
    """The home municipality's code (Suomi.fi `urn:oid:1.2.246.517.2002.2.18`), suggested as a
    partner organisation at registration; never released to portals."""
    address_protection: str | None = None
    """The address-protection flag (turvakielto, Suomi.fi `urn:oid:1.2.246.517.2002.2.27`): when
    it is set, nothing address-like (the municipality) is read."""
    acr_values: Mapping[str, str] = Field(default_factory=dict)
    """Upstream acr → the broker's acr (e.g. an organisation's MFA class → loa3)."""

    def upstream_acr(self, wanted: Sequence[str]) -> list[str]:
        """The broker's acr values in the IdP's own words, where `acr_values` has them (what
        an upstream request asks for: OIDC `acr_values`, SAML AuthnContextClassRef)."""
        found: list[str] = []
        for acr in wanted:
            theirs = [upstream for upstream, ours in self.acr_values.items() if ours == acr]
            found.extend(value for value in theirs or [acr] if value not in found)
        return found

    def broker_acr(self, upstream: object, default: str | None) -> str | None:
        """The IdP's answered acr in the broker's words; `default` when it sent none."""
        if isinstance(upstream, str) and upstream:
            return self.acr_values.get(upstream, upstream)
        return default


class ClaimSource(Protocol):
    """What normalisation needs of an IdP's configuration (`upstream.registry.IdP` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def claims(self) -> ClaimMapping: ...
    @property
    def trust_identity_code(self) -> bool: ...
    @property
    def organisation_name(self) -> str: ...


def normalise(idp: ClaimSource, raw: RawIdentity) -> Identity:
    organisation = idp.route == "organisation"
    mapping, claims = idp.claims, raw.claims
    return Identity(
        idp_id=raw.idp_id,
        issuer=raw.issuer,
        subject=raw.subject,
        route=idp.route,
        name=_text(claims, mapping.name),
        given_name=_text(claims, mapping.given_name),
        family_name=_text(claims, mapping.family_name),
        email=_text(claims, mapping.email),
        phone_number=_text(claims, mapping.phone_number),
        title=_text(claims, mapping.title),
        hetu=_text(claims, mapping.hetu) if idp.trust_identity_code else None,
        municipality_code=_municipality(
            claims, mapping.municipality_code, mapping.address_protection
        ),
        organisation_id=idp.id if organisation else None,
        organisation_name=idp.organisation_name if organisation else None,
        acr=raw.acr,
        amr=raw.amr,
        auth_time=raw.auth_time,
    )


def _text(claims: Mapping[str, Any], name: str | None) -> str | None:
    """The named claim as a stripped string; None when unmapped, absent, empty or not a string."""
    value = claims.get(name) if name is not None else None
    return (value.strip() or None) if isinstance(value, str) else None


NOT_PROTECTED = frozenset({"false", "0", "no", "ei"})


def _municipality(
    claims: Mapping[str, Any], code_claim: str | None, protection_claim: str | None
) -> str | None:
    """The municipality code, unless the person may have address protection: a mapped flag
    that is absent or anything but a clear "false" counts as protection."""
    if protection_claim is not None:
        flag = _text(claims, protection_claim)
        if flag is None or flag.casefold() not in NOT_PROTECTED:
            return None
    code = _text(claims, code_claim)
    return code if code is not None and code.isdigit() and len(code) == 3 else None
