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

from collections.abc import Mapping
from typing import Any

from broker.claims.identity import Identity, RawIdentity
from broker.upstream.registry import IdP


def normalise(idp: IdP, raw: RawIdentity) -> Identity:
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
        organisation_name=idp.names.fi if organisation else None,
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
