"""Which claims each scope releases: OIDC Core §5.4 for `profile`, `email` and `phone`, and the
broker's own `professional` and `national_identity_code`.

This table is the one place a claim is tied to a scope; `broker.claims.release` applies it (with
the per-portal policy for the identity code) and discovery lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

PROFESSIONAL_SCOPE: Final = "professional"
NATIONAL_IDENTITY_CODE_SCOPE: Final = "national_identity_code"
NATIONAL_IDENTITY_CODE_CLAIM: Final = "hetu"
"""The henkilötunnus, released under this name only (see README: What each portal receives)."""

SCOPE_CLAIMS: Final[Mapping[str, tuple[str, ...]]] = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    PROFESSIONAL_SCOPE: (
        "partner_organisations",
        "route",
        "idp",
        "organisation_id",
        "organisation_name",
        "title",
        "card_type",
        "prescription_right",
    ),
    NATIONAL_IDENTITY_CODE_SCOPE: (NATIONAL_IDENTITY_CODE_CLAIM,),
}

# What the ID token itself carries (OIDC Core §2); scope claims are userinfo's (§5.4).
TOKEN_CLAIMS: Final = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid")


def supported_scopes() -> list[str]:
    """For discovery's `scopes_supported` and the client check, in a stable order."""
    return ["openid", *SCOPE_CLAIMS, "offline_access"]


def supported_claims() -> list[str]:
    """For discovery's `claims_supported`."""
    return [*TOKEN_CLAIMS, *(c for claims in SCOPE_CLAIMS.values() for c in claims)]
