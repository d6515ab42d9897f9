"""Signed cookies and form fields: the IdP session, the CSRF double submit, the sealed request.

No login state lives on the server: the validated AuthnRequest rides through the login form
signed and time-stamped by the injected clock, and the CSRF token is a signature over a random
value in a cookie (double submit). Times come from the injected clock, never from itsdangerous.

A `Signer` salts every signature with its namespace and the purpose, so a mock that plays several
organisations gives each its own namespace: one organisation's session cookie, replayed at
another, fails its signature. A `CookieScope` keeps each organisation's cookies on its own path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_LIFETIME = 8 * 3600  # a working day
FORM_LIFETIME = 1800


class Signer:
    """itsdangerous signatures salted per namespace and purpose."""

    def __init__(self, secret_key: str, namespace: str) -> None:
        self._secret_key = secret_key
        self._namespace = namespace

    def dumps(self, purpose: str, value: Any) -> str:
        return str(self._serializer(purpose).dumps(value))

    def loads(self, purpose: str, token: str | None) -> Any:
        """The signed value, or None when the token is missing or forged."""
        if not token:
            return None
        try:
            return self._serializer(purpose).loads(token)
        except BadSignature:
            return None

    def name_id(self, session_index: str, sp_entity_id: str) -> str:
        """The transient NameID of one IdP session at one SP: random to the SP, but the mock
        can name it again in its own LogoutRequest, or recognise it in the SP's, without
        keeping it anywhere."""
        message = f"{self._namespace}\x00{session_index}\x00{sp_entity_id}".encode()
        key = self._secret_key.encode()
        return "_" + hmac.new(key, message, hashlib.sha256).hexdigest()[:40]

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret_key, salt=f"{self._namespace}/{purpose}")


@dataclass(frozen=True)
class CookieScope:
    """Where a mock's (or one organisation's) cookies live, and whether they are Secure."""

    path: str = "/"
    secure: bool = False


def set_cookie(response: Response, name: str, value: str, scope: CookieScope) -> None:
    response.set_cookie(
        name, value, path=scope.path, secure=scope.secure, httponly=True, samesite="lax"
    )


def delete_cookie(response: Response, name: str, scope: CookieScope) -> None:
    response.delete_cookie(
        name, path=scope.path, secure=scope.secure, httponly=True, samesite="lax"
    )


def read_session(request: Request, signer: Signer, cookie: str, now: int) -> dict[str, Any] | None:
    """The signed session (a dict with an integer `auth_time`) while it is younger than
    SESSION_LIFETIME by the injected clock; otherwise None."""
    data = signer.loads("session", request.cookies.get(cookie))
    if not isinstance(data, dict) or not isinstance(data.get("auth_time"), int):
        return None
    return data if 0 <= now - data["auth_time"] < SESSION_LIFETIME else None


def start_session(
    response: Response, signer: Signer, cookie: str, scope: CookieScope, session: dict[str, Any]
) -> None:
    set_cookie(response, cookie, signer.dumps("session", session), scope)


def issue_csrf_token(request: Request, signer: Signer, cookie: str) -> tuple[str, str | None]:
    """A token for a form, and the new cookie value to set when the browser has none yet."""
    binding = request.cookies.get(cookie)
    new_binding = None
    if not binding or len(binding) > 64:
        binding = new_binding = secrets.token_urlsafe(24)
    return signer.dumps("csrf", binding), new_binding


def csrf_ok(request: Request, signer: Signer, cookie: str, token: str | None) -> bool:
    binding = request.cookies.get(cookie)
    return bool(binding) and signer.loads("csrf", token) == binding


def seal(signer: Signer, pending: dict[str, Any], now: int) -> str:
    """The validated request, for a hidden field (or a language link) of the login form."""
    return signer.dumps("pending", {"pending": pending, "issued_at": now})


def unseal(signer: Signer, token: str | None, now: int) -> dict[str, Any] | None:
    data = signer.loads("pending", token)
    if not isinstance(data, dict) or not isinstance(data.get("issued_at"), int):
        return None
    if not 0 <= now - data["issued_at"] < FORM_LIFETIME:
        return None
    pending = data.get("pending")
    return pending if isinstance(pending, dict) else None
