"""Single sign-on sessions: when a portal's request can reuse one, and when it must not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.clock import Clock
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.store.base import Store
from broker.store.records import SessionRecord, UpstreamSession


class SessionManager:
    def __init__(self, store: Store, clock: Clock, ttl: int) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl

    async def start(
        self,
        sub: str,
        *,
        acr: str | None,
        amr: tuple[str, ...],
        claims: Mapping[str, Any],
        upstream: UpstreamSession | None = None,
        auth_time: float | None = None,
    ) -> SessionRecord:
        """`upstream`: the IdP's session behind this one, kept for single logout. `auth_time`:
        when the IdP authenticated the person (OIDC `auth_time`, SAML `AuthnInstant`), which
        may be long before this login when the IdP answered from its own session; `max_age`
        and the ID token's `auth_time` are about that moment. Never later than now; now when
        the IdP did not say."""
        now = self._clock.now()
        session = SessionRecord(
            sid=secrets.new_id(),
            sub=sub,
            auth_time=now if auth_time is None else min(auth_time, now),
            acr=acr,
            amr=amr,
            claims=dict(claims),
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.sessions.put(session)
        if upstream is not None:
            await self._store.sessions.put_upstream_session(session.sid, upstream)
        return session

    async def update_claims(self, session: SessionRecord, claims: Mapping[str, Any]) -> None:
        """After the person edited their account: later portals get the new details."""
        await self._store.sessions.update_claims(session.sid, dict(claims))

    async def active(self, sid: str | None) -> SessionRecord | None:
        if not sid:
            return None
        session = await self._store.sessions.get(sid)
        if session is None or session.ended_at is not None:
            return None
        if session.expires_at <= self._clock.now():
            return None
        return session

    def satisfies(self, session: SessionRecord, request: AuthorizationRequest) -> bool:
        """Whether the session may answer the request without a new login (OIDC Core §3.1.2.1)."""
        if "login" in request.prompt or "select_account" in request.prompt:
            return False  # the person logs in again, choosing route and organisation anew
        if request.max_age is not None and self._clock.now() - session.auth_time > request.max_age:
            return False
        return not (request.acr_values and session.acr not in request.acr_values)

    async def end(self, sid: str) -> list[str]:
        return await self._store.sessions.end(sid, self._clock.now())
