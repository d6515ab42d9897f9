"""The portal's server-side state: login sessions, user profiles and authlib's login state.

This is a demo, so everything lives in process memory and is lost on restart; a real portal keeps
it in a shared store. What matters is the shape: the browser's cookie carries only a random id
(signed by Starlette's SessionMiddleware), and the session itself stays on the server. Back-channel
logout needs exactly that: the broker calls the portal without the user's browser, naming the
broker session (`sid`) or the user (`sub`), so the portal must be able to find and delete the
matching sessions on its own side. A cookie-only session could not be ended that way.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SESSION_LIFETIME = 8 * 3600


@dataclass(frozen=True)
class LoginSession:
    """One person logged in to the portal in one browser."""

    session_id: str
    sub: str
    sid: str | None
    id_token: str  # kept only to send as id_token_hint at logout; never shown or logged
    id_token_claims: Mapping[str, Any]
    userinfo: Mapping[str, Any]
    created_at: float
    expires_at: float

    @property
    def display_name(self) -> str:
        for claims in (self.userinfo, self.id_token_claims):
            name = claims.get("name")
            if isinstance(name, str) and name:
                return name
        return self.sub


@dataclass
class SessionStore:
    """Login sessions by id, indexed by the broker's `sid` and by `sub` for back-channel logout."""

    clock: Callable[[], float] = time.time
    _sessions: dict[str, LoginSession] = field(default_factory=dict)
    _by_sid: dict[str, set[str]] = field(default_factory=dict)
    _by_sub: dict[str, set[str]] = field(default_factory=dict)

    def create(
        self,
        sub: str,
        sid: str | None,
        id_token: str,
        id_token_claims: Mapping[str, Any],
        userinfo: Mapping[str, Any],
    ) -> LoginSession:
        self._purge_expired()
        now = self.clock()
        record = LoginSession(
            session_id=secrets.token_urlsafe(32),
            sub=sub,
            sid=sid,
            id_token=id_token,
            id_token_claims=dict(id_token_claims),
            userinfo=dict(userinfo),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        self._sessions[record.session_id] = record
        self._by_sub.setdefault(sub, set()).add(record.session_id)
        if sid:
            self._by_sid.setdefault(sid, set()).add(record.session_id)
        return record

    def get(self, session_id: str | None) -> LoginSession | None:
        record = self._sessions.get(session_id) if session_id else None
        if record is not None and record.expires_at <= self.clock():
            self.drop(record.session_id)
            return None
        return record

    def drop(self, session_id: str) -> None:
        record = self._sessions.pop(session_id, None)
        if record is None:
            return
        _discard(self._by_sub, record.sub, session_id)
        if record.sid:
            _discard(self._by_sid, record.sid, session_id)

    def drop_for_logout(self, sid: str | None, sub: str | None) -> int:
        """Back-Channel Logout 1.0 §2.7: with a `sid`, the sessions of that broker session (of
        that `sub`, if one is given too); with only a `sub`, all of that person's sessions."""
        if sid:
            ids = set(self._by_sid.get(sid, ()))
            if sub:
                ids &= self._by_sub.get(sub, set())
        elif sub:
            ids = set(self._by_sub.get(sub, ()))
        else:
            ids = set()
        for session_id in ids:
            self.drop(session_id)
        return len(ids)

    def __len__(self) -> int:
        return len(self._sessions)

    def _purge_expired(self) -> None:
        now = self.clock()
        for record in [r for r in self._sessions.values() if r.expires_at <= now]:
            self.drop(record.session_id)


def _discard(index: dict[str, set[str]], key: str, session_id: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(session_id)
        if not ids:
            del index[key]


@dataclass(frozen=True)
class Profile:
    """The portal's own user profile (seed 001): filled in once, editable later."""

    ammattiryhma: str  # professional group, mandatory
    hyvinvointialue: str | None  # wellbeing services county, optional
    saved_at: float


@dataclass
class ProfileStore:
    """Profiles by the broker's `sub`; they outlive logins (the broker's sub is stable)."""

    clock: Callable[[], float] = time.time
    _profiles: dict[str, Profile] = field(default_factory=dict)

    def get(self, sub: str) -> Profile | None:
        return self._profiles.get(sub)

    def save(self, sub: str, ammattiryhma: str, hyvinvointialue: str | None) -> Profile:
        profile = Profile(ammattiryhma, hyvinvointialue, self.clock())
        self._profiles[sub] = profile
        return profile


@dataclass
class StateCache:
    """authlib's cache interface (async get/set/delete), in memory.

    Given to `OAuth(cache=...)`, it keeps the login's nonce and PKCE verifier on the server: the
    session cookie then holds only authlib's marker that binds the state to this browser.
    """

    clock: Callable[[], float] = time.monotonic
    _items: dict[str, tuple[float, str]] = field(default_factory=dict)

    async def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[0] <= self.clock():
            self._items.pop(key, None)
            return None
        return item[1]

    async def set(self, key: str, value: str, expires_in: float | None = None) -> None:
        now = self.clock()
        for stale in [k for k, (expiry, _) in self._items.items() if expiry <= now]:
            del self._items[stale]
        self._items[key] = (now + (expires_in or 3600), value)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)
