"""ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6), honest or broken by an armed test fault.

The faults that live inside the ID token are applied here, after the honest claims are built, so
each broken token differs from a good one in exactly the one way its fault names.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from joserfc import jwt

from mock_idps.oidc_idp.claims import released_claims
from mock_idps.oidc_idp.config import UserAccount
from mock_idps.oidc_idp.faults import Fault
from mock_idps.oidc_idp.grants import Grant
from mock_idps.oidc_idp.keys import ALGORITHM, OrgKeys

ID_TOKEN_LIFETIME = 600
_EXPIRED_BY = 3600  # far beyond any relying party's clock-skew leeway


def issue_id_token(
    *,
    issuer: str,
    grant: Grant,
    user: UserAccount,
    access_token: str,
    keys: OrgKeys,
    now: int,
    fault: Fault | None = None,
) -> str:
    claims = id_token_claims(issuer, grant, user, access_token, now)
    claims = _break_claims(claims, fault, now)
    key = keys.impostor if fault is Fault.BAD_SIGNATURE else keys.signing_key
    header = {"alg": ALGORITHM, "kid": keys.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])


def id_token_claims(
    issuer: str, grant: Grant, user: UserAccount, access_token: str, now: int
) -> dict[str, Any]:
    claims: dict[str, Any] = released_claims(user, grant.scope) | {
        "iss": issuer,
        "sub": user.sub,
        "aud": grant.client_id,
        "exp": now + ID_TOKEN_LIFETIME,
        "iat": now,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "amr": list(grant.amr),
        "at_hash": at_hash(access_token),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    return claims


def at_hash(access_token: str) -> str:
    """§3.1.3.6: base64url of the left half of SHA-256 of the access token (for RS256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def _break_claims(claims: dict[str, Any], fault: Fault | None, now: int) -> dict[str, Any]:
    if fault is Fault.WRONG_ISSUER:
        return claims | {"iss": claims["iss"] + "-impostor"}
    if fault is Fault.WRONG_AUDIENCE:
        return claims | {"aud": "some-other-client", "azp": "some-other-client"}
    if fault is Fault.EXPIRED:
        return claims | {"iat": now - _EXPIRED_BY - ID_TOKEN_LIFETIME, "exp": now - _EXPIRED_BY}
    if fault is Fault.NONCE_MISMATCH:
        return claims | {"nonce": secrets.token_urlsafe(16)}
    if fault is Fault.MISSING_NONCE:
        return {k: v for k, v in claims.items() if k != "nonce"}
    return claims
