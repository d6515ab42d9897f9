"""The national identity code is kept sealed wherever the broker stores it (the login
transaction during registration, the SSO session, a portal's grant): AES-256-GCM under a key
derived from the subject key for this one purpose, opened only when userinfo releases it to a
portal allowed it. A copy of the database, or a claims dict in a debugger, shows no code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SEALED_PREFIX", "Sealer"]

SEALED_PREFIX: Final = "sealed:v1:"
_NONCE: Final = 12


class Sealer:
    def __init__(self, subject_key: bytes) -> None:
        key = hmac.new(subject_key, b"seal\x00national-identity-code", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, value: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, value.encode(), b"hetu")
        return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, value: str) -> str | None:
        """The code, or None for anything not sealed by this key (never a clear value)."""
        if not value.startswith(SEALED_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(value[len(SEALED_PREFIX) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], b"hetu").decode()
        except (ValueError, InvalidTag):
            return None
