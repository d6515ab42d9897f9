"""The claim checks of an upstream ID token (OpenID Connect Core §3.1.3.7), and whether the
answer meets what the portal asked for (fresh login, max_age, acr). Pure functions: each returns
the name of the first failed check, or None, so the connector decides how to report it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Protocol, TypeGuard

SHA_BY_SIZE = {"256": "sha256", "384": "sha384", "512": "sha512"}


def id_token_problem(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: float, skew: int
) -> str | None:
    """The first check of OpenID Connect Core §3.1.3.7 that the claims fail, or None."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    got_nonce, sub, amr = claims.get("nonce"), claims.get("sub"), claims.get("amr", [])
    checks = (
        (claims.get("iss") == issuer, "iss is not the issuer"),
        (client_id in audiences, "aud does not contain the client_id"),
        (
            ("azp" not in claims and len(audiences) == 1) or claims.get("azp") == client_id,
            "azp is not the client_id",
        ),
        (is_number(exp) and now < exp + skew, "exp missing or passed"),
        (is_number(iat) and iat <= now + skew, "iat missing or in the future"),
        (nbf is None or (is_number(nbf) and nbf <= now + skew), "nbf in the future"),
        (
            isinstance(got_nonce, str) and hmac.compare_digest(got_nonce.encode(), nonce.encode()),
            "nonce missing or not this login's",
        ),
        (isinstance(sub, str) and bool(sub), "sub missing"),
        ("auth_time" not in claims or is_number(claims["auth_time"]), "auth_time not a number"),
        (isinstance(claims.get("acr", ""), str), "acr not a string"),
        (isinstance(amr, list) and all(isinstance(a, str) for a in amr), "amr not strings"),
    )
    return next((name for ok, name in checks if not ok), None)


def at_hash_problem(claims: Mapping[str, Any], alg: Any, access_token: str) -> str | None:
    """OpenID Connect Core §3.1.3.8: `at_hash`, when present, is the left half of the token hash."""
    at_hash = claims.get("at_hash")
    if at_hash is None:
        return None
    hash_name = "sha512" if alg == "EdDSA" else SHA_BY_SIZE.get(str(alg)[-3:])
    if hash_name is None:
        return "at_hash with an unknown alg"
    digest = hashlib.new(hash_name, access_token.encode("ascii", "replace")).digest()
    expected = b64(digest[: len(digest) // 2])
    if not isinstance(at_hash, str) or not hmac.compare_digest(at_hash.encode(), expected.encode()):
        return "at_hash does not match the access token"
    return None


class Requested(Protocol):
    """What the portal asked of this login, as saved when it started."""

    @property
    def prompt(self) -> tuple[str, ...]: ...

    @property
    def max_age(self) -> int | None: ...

    @property
    def acr_values(self) -> tuple[str, ...]: ...

    @property
    def started_at(self) -> float: ...


def requirement_problem(
    saved: Requested, auth_time: Any, acr: str | None, *, now: float, skew: int
) -> str | None:
    """What the portal asked (prompt=login, max_age, acr_values) and this login did not give."""
    if saved.max_age is not None or "login" in saved.prompt:
        if not is_number(auth_time):
            return "no auth_time, though prompt=login or max_age was asked"
        if "login" in saved.prompt and auth_time < saved.started_at - skew:
            return "prompt=login, but the IdP did not authenticate the person again"
        if saved.max_age is not None and now - auth_time > saved.max_age + skew:
            return "authentication older than max_age"
    if saved.acr_values and acr not in saved.acr_values:
        return f"acr {acr} is not among the requested acr_values"
    return None


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
