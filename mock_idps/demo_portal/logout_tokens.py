"""Logout token validation, OpenID Connect Back-Channel Logout 1.0 §2.6, with joserfc.

The broker's keys come from its JWKS (discovery `jwks_uri`); a token naming a kid that is not in
the cached set makes one refetch (a rotated key), at most once per `refresh_interval` so that forged
kids cannot make the portal hammer the broker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")

MetadataLoader = Callable[[], Awaitable[Mapping[str, Any]]]
JWKSLoader = Callable[[bool], Awaitable[Mapping[str, Any]]]


class LogoutTokenError(ValueError):
    """A logout token that must be refused (§2.6: the RP answers 400)."""


class LogoutTokenValidator:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        metadata: MetadataLoader,
        jwks: JWKSLoader,
        *,
        leeway: int = 60,
        refresh_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self._metadata = metadata
        self._jwks = jwks
        self._leeway = leeway
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._last_refresh = float("-inf")
        self._seen_jti: dict[str, float] = {}

    async def validate(self, token: str) -> dict[str, Any]:
        """The token's claims if it passes every check of §2.6; raises LogoutTokenError."""
        header, claims = await self._verify_signature(token)
        check_type(header)
        self._check_claims(claims)
        self._remember_jti(claims)
        return claims

    async def _verify_signature(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            algorithms = await self._algorithms()
            try:
                decoded = jwt.decode(token, await self._key_set(False), algorithms=algorithms)
            except InvalidKeyIdError:
                if self._clock() - self._last_refresh < self._refresh_interval:
                    raise
                decoded = jwt.decode(token, await self._key_set(True), algorithms=algorithms)
        except (JoseError, ValueError) as exc:
            raise LogoutTokenError(f"signature: {type(exc).__name__}") from exc
        except (httpx.HTTPError, RuntimeError, KeyError) as exc:
            raise LogoutTokenError(f"the broker's keys are unavailable: {exc}") from exc
        return dict(decoded.header), dict(decoded.claims)

    async def _algorithms(self) -> list[str]:
        metadata = await self._metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in offered if alg in ASYMMETRIC_ALGS]

    async def _key_set(self, force: bool) -> KeySet:
        if force:
            self._last_refresh = self._clock()
        return KeySet.import_key_set(dict(await self._jwks(force)))  # type: ignore[arg-type]

    def _check_claims(self, claims: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._client_id},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise LogoutTokenError(f"claims: {exc}") from exc
        check_logout_claims(claims)

    def _remember_jti(self, claims: dict[str, Any]) -> None:
        """§2.6 step 10 (optional, done here): refuse a logout token seen before."""
        now = self._clock()
        for jti in [j for j, until in self._seen_jti.items() if until <= now]:
            del self._seen_jti[jti]
        jti = claims["jti"]
        if jti in self._seen_jti:
            raise LogoutTokenError("jti was used before (replay)")
        self._seen_jti[jti] = float(claims["exp"]) + self._leeway


def check_type(header: Mapping[str, Any]) -> None:
    """§2.6 step 3 via RFC 8725 §3.11: if a `typ` is given it must be logout+jwt."""
    typ = header.get("typ")
    if typ is None:
        return
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != "logout+jwt":
        raise LogoutTokenError("typ is not logout+jwt")


def check_logout_claims(claims: Mapping[str, Any]) -> None:
    """§2.6 steps 4-7: the logout event, a sid and/or sub, and no nonce."""
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutTokenError("events lacks the back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenError("a logout token must not contain a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise LogoutTokenError("neither sid nor sub")
    for name, value in (("sid", sid), ("sub", sub)):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutTokenError(f"{name} must be a non-empty string")
