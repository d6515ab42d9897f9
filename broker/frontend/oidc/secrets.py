"""Random values handed out (codes, tokens, client secrets) and how they are kept: as hashes.

Every value is 256 bits from the OS, so an unkeyed SHA-256 is enough to make a stolen database
useless for presenting them; comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_id() -> str:
    """A shorter random identifier for rows that are not credentials (grant, session, jti)."""
    return secrets.token_urlsafe(16)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matches(value: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(value), expected_hash)


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def left_half_hash(value: str) -> str:
    """OIDC Core §3.1.3.6 at_hash for SHA-256 based algorithms (RS256, ES256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")
