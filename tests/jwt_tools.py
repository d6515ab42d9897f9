"""Reading and tampering with JWTs, and a portal's RSA key, for the OpenID Provider tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc.jwk import RSAKey


def _b64decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified (for looking, not trusting)."""
    header, payload, _ = token.split(".")
    return _b64decode(header), _b64decode(payload)


def tamper(token: str, **claims: Any) -> str:
    """The same JWS with changed claims and the original signature."""
    header, payload, signature = token.split(".")
    changed = {**_b64decode(payload), **claims}
    encoded = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def rsa_client_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-key-1", "alg": "RS256"})
