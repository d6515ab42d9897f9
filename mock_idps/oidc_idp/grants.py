"""Authorization codes and access tokens, kept in process memory.

A mock runs as one process and may forget everything on restart, so a dict is the honest store.
What matters is the protocol behaviour the broker can observe: a code works once, for the client,
redirect_uri and PKCE verifier it was issued for, within its lifetime; presenting a used code again
also revokes the access tokens it produced (RFC 6749 §4.1.2, "SHOULD revoke").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

CODE_LIFETIME = 60
ACCESS_TOKEN_LIFETIME = 600
_USED_CODE_MEMORY = 3600  # how long a redeemed code is remembered, to detect its replay


@dataclass(frozen=True)
class Grant:
    """What the person approved at one organisation, as carried by a code or an access token."""

    org_id: str
    client_id: str
    sub: str
    scope: tuple[str, ...]
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    nonce: str | None = None


@dataclass(frozen=True)
class AuthorizationCode:
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    expires_at: float


@dataclass
class _UsedCode:
    forget_at: float
    access_tokens: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AccessToken:
    grant: Grant
    expires_at: float


class GrantStore:
    def __init__(self) -> None:
        self._codes: dict[str, AuthorizationCode] = {}
        self._used: dict[str, _UsedCode] = {}
        self._tokens: dict[str, AccessToken] = {}

    def issue_code(
        self, grant: Grant, redirect_uri: str, code_challenge: str | None, now: float
    ) -> str:
        self._prune(now)
        code = secrets.token_urlsafe(32)
        self._codes[code] = AuthorizationCode(
            grant, redirect_uri, code_challenge, now + CODE_LIFETIME
        )
        return code

    def redeem_code(self, code: str, now: float) -> AuthorizationCode | None:
        """The code's data, once; None if unknown, expired or used (and then revoke its tokens)."""
        issued = self._codes.pop(code, None)
        if issued is None:
            self._revoke_replayed(code)
            return None
        self._used[code] = _UsedCode(now + _USED_CODE_MEMORY)
        return issued if now < issued.expires_at else None

    def issue_access_token(self, code: str, grant: Grant, now: float) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = AccessToken(grant, now + ACCESS_TOKEN_LIFETIME)
        if code in self._used:
            self._used[code].access_tokens.append(token)
        return token

    def access_token(self, token: str, now: float) -> AccessToken | None:
        found = self._tokens.get(token)
        return found if found is not None and now < found.expires_at else None

    def _revoke_replayed(self, code: str) -> None:
        used = self._used.get(code)
        for token in used.access_tokens if used else ():
            self._tokens.pop(token, None)

    def _prune(self, now: float) -> None:
        for code in [c for c, v in self._codes.items() if v.expires_at <= now]:
            del self._codes[code]
        for code in [c for c, v in self._used.items() if v.forget_at <= now]:
            del self._used[code]
        for token in [t for t, v in self._tokens.items() if v.expires_at <= now]:
            del self._tokens[token]


def verify_pkce(code_verifier: str, code_challenge: str) -> bool:
    """RFC 7636 §4.6, S256: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    digest = hashlib.sha256(code_verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, code_challenge)
