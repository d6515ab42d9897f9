"""Signed cookies that carry only random ids; the state lives in the store.

Each purpose has its own salt, so a session cookie can never be replayed as a transaction cookie.
Key rotation: the secret file holds one key per line, the newest last; the newest signs and all
verify (itsdangerous key lists). On https issuers cookies use the `__Host-` prefix; on plain-http
development issuers they are clearly named `..._insecure_dev` and lack the Secure flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from itsdangerous import BadSignature, Signer
from starlette.responses import Response

SESSION = "session"
TRANSACTION = "tx"
LANGUAGE = "lang"
REMEMBER = "remember"  # opt-in: the last organisation chosen on this device
CSRF = "csrf"


class CookieSigner:
    def __init__(self, keys: list[bytes], *, secure: bool) -> None:
        self._keys = keys
        self._secure = secure
        self._signers: dict[str, Signer] = {}

    def _signer(self, purpose: str) -> Signer:
        if purpose not in self._signers:
            self._signers[purpose] = Signer(self._keys, salt=f"sote-broker.{purpose}")
        return self._signers[purpose]

    def name(self, purpose: str) -> str:
        return f"__Host-sote_{purpose}" if self._secure else f"sote_{purpose}_insecure_dev"

    def set(self, response: Response, purpose: str, value: str, max_age: int) -> None:
        token = self._signer(purpose).sign(value).decode("ascii")
        response.set_cookie(
            self.name(purpose),
            token,
            max_age=max_age,
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response, purpose: str) -> None:
        response.delete_cookie(
            self.name(purpose), path="/", secure=self._secure, httponly=True, samesite="lax"
        )

    def read(self, cookies: Mapping[str, str], purpose: str) -> str | None:
        raw = cookies.get(self.name(purpose))
        if not raw:
            return None
        try:
            return self._signer(purpose).unsign(raw).decode("utf-8")
        except (BadSignature, UnicodeDecodeError):
            return None

    def csrf_token(self, bound_to: str) -> str:
        """A token tied to one transaction or session: forging it needs the broker's key."""
        return self._signer(CSRF).get_signature(bound_to).decode("ascii")

    def check_csrf(self, bound_to: str, token: str | None) -> bool:
        return bool(token) and self._signer(CSRF).verify_signature(bound_to, token or "")
