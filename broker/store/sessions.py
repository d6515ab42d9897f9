"""SSO sessions, the portals that took part in each, the upstream IdP's session behind each and
the single logouts waiting for an IdP's answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from broker.store.columns import dump, load, strings
from broker.store.connection import Connection
from broker.store.records import SessionRecord, UpstreamLogout, UpstreamSession

__all__ = ["SQLSessions", "SessionStore"]


class SessionStore(Protocol):
    async def put(self, session: SessionRecord) -> None: ...

    async def get(self, sid: str) -> SessionRecord | None: ...

    async def update_claims(self, sid: str, claims: dict[str, Any]) -> None:
        """Replace an SSO session's claims (the person edited their account)."""

    async def end(self, sid: str, now: float) -> list[str]:
        """Mark ended, revoke its grants; return the ids of the clients that took part in it."""

    async def end_subject(
        self, sub: str, client_subjects: Sequence[tuple[str, str]], now: float
    ) -> list[tuple[str, list[str]]]:
        """For an account that is gone: end every session of the local subject `sub` not ended
        yet, revoke every grant of the account (by each client's own subject for it in
        `client_subjects`, (client_id, sub) pairs, since a refresh token outlives its session)
        and drop the claims both keep; return each ended session's sid with the ids of the
        clients that took part in it."""

    async def add_client(self, sid: str, client_id: str) -> None: ...

    async def put_upstream_session(self, sid: str, upstream: UpstreamSession) -> None:
        """Record the upstream IdP's session behind the SSO session `sid`."""

    async def get_upstream_session(self, sid: str) -> UpstreamSession | None: ...

    async def find_upstream_sessions(
        self, idp_id: str, name_id: str, session_indexes: tuple[str, ...]
    ) -> list[str]:
        """The ids of the SSO sessions, not ended, behind which the IdP knows the person by
        `name_id`; with `session_indexes`, only those sessions."""

    async def put_upstream_logout(self, logout: UpstreamLogout) -> None: ...

    async def get_upstream_logout(self, logout_id: str) -> UpstreamLogout | None: ...

    async def finish_upstream_logout(self, logout_id: str) -> bool:
        """Delete; False if it was already gone (so an answer completes a logout only once)."""


class SQLSessions:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def put(self, session: SessionRecord) -> None:
        await self._db.run(
            "INSERT INTO sessions (sid, sub, auth_time, acr, amr, claims, created_at, expires_at, "
            "ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.sid,
                session.sub,
                session.auth_time,
                session.acr,
                dump(list(session.amr)),
                dump(session.claims),
                session.created_at,
                session.expires_at,
                session.ended_at,
            ),
        )

    async def get(self, sid: str) -> SessionRecord | None:
        row = await self._db.one("SELECT * FROM sessions WHERE sid = ?", (sid,))
        if row is None:
            return None
        return SessionRecord(
            sid=row["sid"],
            sub=row["sub"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=strings(row["amr"]),
            claims=load(row["claims"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            ended_at=row["ended_at"],
        )

    async def update_claims(self, sid: str, claims: dict[str, Any]) -> None:
        await self._db.run("UPDATE sessions SET claims = ? WHERE sid = ?", (dump(claims), sid))

    async def end(self, sid: str, now: float) -> list[str]:
        async with self._db.transaction() as db:
            await db.run(
                "UPDATE sessions SET ended_at = ? WHERE sid = ? AND ended_at IS NULL", (now, sid)
            )
            await db.run(
                "UPDATE grants SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL", (now, sid)
            )
            rows = await db.all(
                "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id", (sid,)
            )
        return [row["client_id"] for row in rows]

    async def end_subject(
        self, sub: str, client_subjects: Sequence[tuple[str, str]], now: float
    ) -> list[tuple[str, list[str]]]:
        async with self._db.transaction() as db:
            rows = await db.all(
                "SELECT sid FROM sessions WHERE sub = ? AND ended_at IS NULL ORDER BY sid", (sub,)
            )
            await db.run(
                "UPDATE sessions SET claims = '{}', ended_at = coalesce(ended_at, ?) WHERE sub = ?",
                (now, sub),
            )
            await db.run_many(
                "UPDATE grants SET claims = '{}', revoked_at = coalesce(revoked_at, ?) "
                "WHERE client_id = ? AND sub = ?",
                [(now, client_id, client_sub) for client_id, client_sub in client_subjects],
            )
            ended = []
            for row in rows:
                clients = await db.all(
                    "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id",
                    (row["sid"],),
                )
                ended.append((row["sid"], [c["client_id"] for c in clients]))
        return ended

    async def add_client(self, sid: str, client_id: str) -> None:
        await self._db.run(
            "INSERT INTO session_clients (sid, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (sid, client_id),
        )

    async def put_upstream_session(self, sid: str, upstream: UpstreamSession) -> None:
        await self._db.run(
            "INSERT INTO upstream_sessions (sid, idp_id, name_id, name_id_format, name_qualifier, "
            "sp_name_qualifier, session_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                upstream.idp_id,
                upstream.name_id,
                upstream.name_id_format,
                upstream.name_qualifier,
                upstream.sp_name_qualifier,
                upstream.session_index,
            ),
        )

    async def get_upstream_session(self, sid: str) -> UpstreamSession | None:
        row = await self._db.one("SELECT * FROM upstream_sessions WHERE sid = ?", (sid,))
        if row is None:
            return None
        del row["sid"]
        return UpstreamSession(**row)

    async def find_upstream_sessions(
        self, idp_id: str, name_id: str, session_indexes: tuple[str, ...]
    ) -> list[str]:
        rows = await self._db.all(
            "SELECT u.sid, u.session_index FROM upstream_sessions u JOIN sessions s USING (sid) "
            "WHERE u.idp_id = ? AND u.name_id = ? AND s.ended_at IS NULL ORDER BY u.sid",
            (idp_id, name_id),
        )
        return [
            row["sid"]
            for row in rows
            if not session_indexes or row["session_index"] in session_indexes
        ]

    async def put_upstream_logout(self, logout: UpstreamLogout) -> None:
        await self._db.run(
            "INSERT INTO upstream_logouts (logout_id, idp_id, request_id, target, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                logout.logout_id,
                logout.idp_id,
                logout.request_id,
                dump(logout.target),
                logout.created_at,
                logout.expires_at,
            ),
        )

    async def get_upstream_logout(self, logout_id: str) -> UpstreamLogout | None:
        row = await self._db.one("SELECT * FROM upstream_logouts WHERE logout_id = ?", (logout_id,))
        if row is None:
            return None
        row["target"] = load(row["target"])
        return UpstreamLogout(**row)

    async def finish_upstream_logout(self, logout_id: str) -> bool:
        sql = "DELETE FROM upstream_logouts WHERE logout_id = ?"
        return await self._db.run(sql, (logout_id,)) > 0
