"""Which of a test user's claims a scope releases (OpenID Connect Core 1.0 §5.4).

The same rule feeds the ID token and userinfo, so the two never disagree. The organisation's own
claims (`title`, `department`, `hetu`, ... from the user's `claims:` in the YAML) go with `profile`,
as an organisation's IdP would release them to its own trusted broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mock_idps.oidc_idp.config import UserAccount

SCOPES_SUPPORTED = ("openid", "profile", "email", "phone")
STANDARD_CLAIMS = (
    "sub",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
)


def released_claims(user: UserAccount, scope: Iterable[str]) -> dict[str, Any]:
    scopes = set(scope)
    claims: dict[str, Any] = {"sub": user.sub}
    if "profile" in scopes:
        claims |= {
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
        }
        claims |= dict(user.claims)
    if "email" in scopes and user.email:
        claims |= {"email": user.email, "email_verified": True}
    if "phone" in scopes and user.phone_number:
        claims |= {"phone_number": user.phone_number, "phone_number_verified": True}
    return claims
