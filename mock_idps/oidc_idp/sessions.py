"""The IdP session, the login form's CSRF token and its pending request, all signed.

Each organisation's session is a signed cookie scoped to its issuer path (`/{org}`), so the
organisations of one mock are as separate as real ones: logging in at HUS does not log anyone in
at OYS, and a HUS cookie replayed at OYS fails its signature (the salt names the organisation).

The mock keeps no login state on the server: the authorization request rides through the login
form signed and time-stamped by the injected clock, and the CSRF token is a signature over a random
value in a cookie (double submit), so the form works on any worker and after a restart with the
same key. Times come from the injected clock, never from itsdangerous, so tests can move them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "mock_idp_session"
CSRF_COOKIE = "mock_idp_csrf"
SESSION_LIFETIME = 8 * 3600  # a working day
LOGIN_FORM_LIFETIME = 1800


@dataclass(frozen=True)
class IdPSession:
    sub: str
    auth_time: int


class Signer:
    """itsdangerous signatures salted per purpose and organisation."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def dumps(self, purpose: str, org_id: str, value: Any) -> str:
        return str(self._serializer(purpose, org_id).dumps(value))

    def loads(self, purpose: str, org_id: str, token: str | None) -> Any:
        """The signed value, or None when the token is missing or forged."""
        if not token:
            return None
        try:
            return self._serializer(purpose, org_id).loads(token)
        except BadSignature:
            return None

    def _serializer(self, purpose: str, org_id: str) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret_key, salt=f"mock-oidc-idp/{purpose}/{org_id}")


@dataclass(frozen=True)
class CookieScope:
    """Where an organisation's cookies live: its issuer's path, Secure when served over https."""

    path: str
    secure: bool


def read_session(request: Request, signer: Signer, org_id: str, now: int) -> IdPSession | None:
    data = signer.loads("session", org_id, request.cookies.get(SESSION_COOKIE))
    if not isinstance(data, dict):
        return None
    sub, auth_time = data.get("sub"), data.get("auth_time")
    if not isinstance(sub, str) or not isinstance(auth_time, int):
        return None
    return IdPSession(sub, auth_time) if now - auth_time < SESSION_LIFETIME else None


def start_session(
    response: Response, signer: Signer, org_id: str, scope: CookieScope, session: IdPSession
) -> None:
    value = signer.dumps("session", org_id, {"sub": session.sub, "auth_time": session.auth_time})
    _set_cookie(response, SESSION_COOKIE, value, scope)


def end_session(response: Response, scope: CookieScope) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=scope.path, secure=scope.secure, httponly=True, samesite="lax"
    )


def issue_csrf_token(request: Request, signer: Signer, org_id: str) -> tuple[str, str | None]:
    """A token for a form, and the new cookie value to set when the browser has none yet."""
    binding = request.cookies.get(CSRF_COOKIE)
    new_binding = None
    if not binding or len(binding) > 64:
        binding = new_binding = secrets.token_urlsafe(24)
    return signer.dumps("csrf", org_id, binding), new_binding


def set_csrf_cookie(response: Response, binding: str, scope: CookieScope) -> None:
    _set_cookie(response, CSRF_COOKIE, binding, scope)


def csrf_ok(request: Request, signer: Signer, org_id: str, token: str | None) -> bool:
    binding = request.cookies.get(CSRF_COOKIE)
    return bool(binding) and signer.loads("csrf", org_id, token) == binding


def seal_request(signer: Signer, org_id: str, params: dict[str, str], now: int) -> str:
    """The authorization request, for a hidden field of the login form."""
    return signer.dumps("authorize", org_id, {"params": params, "issued_at": now})


def open_request(signer: Signer, org_id: str, token: str | None, now: int) -> dict[str, str] | None:
    data = signer.loads("authorize", org_id, token)
    if not isinstance(data, dict) or not isinstance(data.get("issued_at"), int):
        return None
    if not 0 <= now - data["issued_at"] < LOGIN_FORM_LIFETIME:
        return None
    params = data.get("params")
    return params if isinstance(params, dict) else None


def _set_cookie(response: Response, name: str, value: str, scope: CookieScope) -> None:
    response.set_cookie(
        name, value, path=scope.path, secure=scope.secure, httponly=True, samesite="lax"
    )
