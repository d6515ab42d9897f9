"""What a portal can do with a token it holds: userinfo (OIDC Core §5.3), revocation
(RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.claims.release import release
from broker.claims.sealed import Sealer
from broker.clock import Clock
from broker.errors import (
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    MissingTokenError,
    UnauthorizedClientError,
)
from broker.frontend.oidc import secrets
from broker.store.base import Store
from broker.store.records import ClientRecord, GrantRecord, TokenRecord


class TokenResources:
    def __init__(self, store: Store, clock: Clock, issuer: str, sealer: Sealer) -> None:
        self._store = store
        self._clock = clock
        self._issuer = issuer
        self._sealer = sealer

    async def _live(self, value: str) -> tuple[TokenRecord, GrantRecord] | None:
        token = await self._store.grants.get_token(secrets.hash_secret(value))
        if token is None or token.revoked_at is not None:
            return None
        now = self._clock.now()
        if token.expires_at <= now or (token.kind == "refresh" and token.used_at is not None):
            return None
        grant = await self._store.grants.get_grant(token.grant_id)
        if grant is None or grant.revoked_at is not None:
            return None
        return token, grant

    async def userinfo(self, access_token: str | None) -> dict[str, Any]:
        if not access_token:
            raise MissingTokenError()
        live = await self._live(access_token)
        if live is None or live[0].kind != "access":
            raise InvalidTokenError("access token invalid, expired or revoked")
        token, grant = live
        if "openid" not in token.scope:
            raise InsufficientScopeError("the openid scope is required")
        client = await self._store.clients.get(token.client_id)
        released = release(grant.claims, token.scope, client)
        if isinstance(sealed := released.get("hetu"), str):  # stored sealed, opened only here
            opened = self._sealer.open(sealed)
            if opened is None:
                del released["hetu"]
            else:
                released["hetu"] = opened
        return {"sub": grant.sub, **released}

    async def introspect(self, client: ClientRecord, form: Mapping[str, str]) -> dict[str, Any]:
        """Only the client a token was issued to learns anything about it."""
        value = form.get("token")
        if not value:
            raise InvalidRequestError("token missing")
        live = await self._live(value)
        if live is None or live[0].client_id != client.client_id:
            return {"active": False}
        token, grant = live
        return {
            "active": True,
            "scope": " ".join(token.scope),
            "client_id": token.client_id,
            "sub": grant.sub,
            "aud": token.client_id,
            "iss": self._issuer,
            "exp": int(token.expires_at),
            "iat": int(token.issued_at),
            "token_type": "Bearer" if token.kind == "access" else "refresh_token",
            **({"sid": grant.sid} if grant.sid else {}),
        }

    async def revoke(self, client: ClientRecord, form: Mapping[str, str]) -> None:
        """RFC 7009 §2.1: an unknown token is no error; a refresh token takes its family along."""
        value = form.get("token")
        if not value:
            raise InvalidRequestError("token missing")
        token = await self._store.grants.get_token(secrets.hash_secret(value))
        if token is None:
            return
        if token.client_id != client.client_id:
            raise UnauthorizedClientError("token was issued to another client")
        now = self._clock.now()
        if token.kind == "refresh":
            await self._store.grants.revoke_grant(token.grant_id, now)
        else:
            await self._store.grants.revoke_token(token.token_hash, now)
