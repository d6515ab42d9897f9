"""Issuing what a portal receives: opaque access and refresh tokens, and signed ID tokens.

Access tokens are opaque random strings kept as hashes (see the README for why not RFC 9068 JWTs):
the broker is their only resource server, so they can be revoked at once and carry no personal
data that a portal could leak in its own logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.clock import Clock
from broker.frontend.oidc import secrets
from broker.frontend.oidc.keys import KeyRing
from broker.settings import TokenSettings
from broker.store.base import Store
from broker.store.records import ClientRecord, GrantRecord, TokenRecord


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: tuple[str, ...]
    id_token: str
    refresh_token: str | None

    def response(self) -> dict[str, Any]:
        """RFC 6749 §5.1 and OIDC Core §3.1.3.3."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
            "id_token": self.id_token,
        }
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


class TokenIssuer:
    def __init__(
        self, store: Store, keys: KeyRing, clock: Clock, issuer: str, ttl: TokenSettings
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._ttl = ttl

    async def issue(
        self,
        client: ClientRecord,
        grant: GrantRecord,
        *,
        with_nonce: bool,
        scope: tuple[str, ...] | None = None,
        refresh_scope: tuple[str, ...] | None = None,
    ) -> IssuedTokens:
        """Tokens for the grant. On refresh the access token may be narrowed to `scope` while
        the new refresh token keeps the scope of the one it replaces (RFC 6749 §6)."""
        now = self._clock.now()
        scope = scope or grant.scope
        access = secrets.new_secret()
        records = [
            self._record(access, "access", client, grant, scope, now, self._ttl.access_token_ttl)
        ]
        refresh = None
        if "refresh_token" in client.grant_types:
            refresh = secrets.new_secret()
            lifetime = max(0, int(grant.expires_at - now))
            kept = refresh_scope or scope
            records.append(self._record(refresh, "refresh", client, grant, kept, now, lifetime))
        await self._store.grants.put_tokens(records)
        id_token = self.id_token(client, grant, access, with_nonce=with_nonce)
        return IssuedTokens(access, self._ttl.access_token_ttl, scope, id_token, refresh)

    def id_token(
        self, client: ClientRecord, grant: GrantRecord, access_token: str, *, with_nonce: bool
    ) -> str:
        """OIDC Core §2; on refresh the nonce is left out (§12.2)."""
        now = int(self._clock.now())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": grant.sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "exp": now + self._ttl.id_token_ttl,
            "auth_time": int(grant.auth_time),
            "at_hash": secrets.left_half_hash(access_token),
        }
        if with_nonce and grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if grant.acr:
            claims["acr"] = grant.acr
        if grant.amr:
            claims["amr"] = list(grant.amr)
        if grant.sid:
            claims["sid"] = grant.sid
        return self._keys.sign_jwt(claims, client.id_token_signed_response_alg, typ="JWT")

    def logout_token(self, client: ClientRecord, sub: str, sid: str) -> str:
        """OpenID Connect Back-Channel Logout 1.0 §2.4."""
        now = int(self._clock.now())
        claims = {
            "iss": self._issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + self._ttl.logout_token_ttl,
            "jti": secrets.new_id(),
            "sub": sub,
            "sid": sid,
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        return self._keys.sign_jwt(claims, client.id_token_signed_response_alg, typ="logout+jwt")

    @staticmethod
    def _record(
        value: str,
        kind: str,
        client: ClientRecord,
        grant: GrantRecord,
        scope: tuple[str, ...],
        now: float,
        lifetime: int,
    ) -> TokenRecord:
        return TokenRecord(
            token_hash=secrets.hash_secret(value),
            kind=kind,
            grant_id=grant.grant_id,
            client_id=client.client_id,
            sub=grant.sub,
            scope=scope,
            issued_at=now,
            expires_at=now + lifetime,
        )
