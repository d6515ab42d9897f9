"""Which claims each OpenID Connect scope releases (OIDC Core §5.4).

The per-portal release policy (pairwise sub, national identity code) builds on this later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}


def claims_for_scopes(claims: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, Any]:
    released: dict[str, Any] = {}
    for scope in scopes:
        for name in SCOPE_CLAIMS.get(scope, ()):
            if name in claims and claims[name] is not None:
                released[name] = claims[name]
    return released


def supported_claims() -> list[str]:
    names = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid"]
    names += [c for claims in SCOPE_CLAIMS.values() for c in claims]
    return names
