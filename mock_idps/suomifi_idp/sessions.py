"""The IdP session, the picker form's CSRF token and its pending request, all signed.

No login state lives on the server: the validated AuthnRequest rides through the picker form
signed and time-stamped by the injected clock, and the CSRF token is a signature over a random
value in a cookie (double submit). Times come from the injected clock, never from itsdangerous.
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

SESSION_COOKIE = "suomifi_mock_session"
CSRF_COOKIE = "suomifi_mock_csrf"
SESSION_LIFETIME = 8 * 3600
FORM_LIFETIME = 1800


@dataclass(frozen=True)
class IdPSession:
    """Who is logged in at the mock, with which method, since when."""

    hetu: str
    method: str
    auth_time: int
    session_index: str


class Signer:
    """itsdangerous signatures salted per purpose."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

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
        can name it again in its own LogoutRequest without keeping it anywhere."""
        message = f"{session_index}\x00{sp_entity_id}".encode()
        key = self._secret_key.encode()
        return "_" + hmac.new(key, message, hashlib.sha256).hexdigest()[:40]

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret_key, salt=f"mock-suomifi-idp/{purpose}")


def read_session(request: Request, signer: Signer, now: int) -> IdPSession | None:
    data = signer.loads("session", request.cookies.get(SESSION_COOKIE))
    if not isinstance(data, dict):
        return None
    try:
        session = IdPSession(**data)
    except TypeError:
        return None
    return session if 0 <= now - session.auth_time < SESSION_LIFETIME else None


def start_session(response: Response, signer: Signer, session: IdPSession, secure: bool) -> None:
    value = signer.dumps("session", session.__dict__)
    response.set_cookie(SESSION_COOKIE, value, secure=secure, httponly=True, samesite="lax")


def end_session(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, secure=secure, httponly=True, samesite="lax")


def issue_csrf_token(request: Request, signer: Signer) -> tuple[str, str | None]:
    """A token for a form, and the new cookie value to set when the browser has none yet."""
    binding = request.cookies.get(CSRF_COOKIE)
    new_binding = None
    if not binding or len(binding) > 64:
        binding = new_binding = secrets.token_urlsafe(24)
    return signer.dumps("csrf", binding), new_binding


def set_csrf_cookie(response: Response, binding: str, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, binding, secure=secure, httponly=True, samesite="lax")


def csrf_ok(request: Request, signer: Signer, token: str | None) -> bool:
    binding = request.cookies.get(CSRF_COOKIE)
    return bool(binding) and signer.loads("csrf", token) == binding


def seal(signer: Signer, pending: dict[str, Any], now: int) -> str:
    """The validated request, for a hidden field (or a language link) of the picker."""
    return signer.dumps("pending", {"pending": pending, "issued_at": now})


def unseal(signer: Signer, token: str | None, now: int) -> dict[str, Any] | None:
    data = signer.loads("pending", token)
    if not isinstance(data, dict) or not isinstance(data.get("issued_at"), int):
        return None
    if not 0 <= now - data["issued_at"] < FORM_LIFETIME:
        return None
    pending = data.get("pending")
    return pending if isinstance(pending, dict) else None
