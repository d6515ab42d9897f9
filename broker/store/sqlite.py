"""The embedded default store: SQLite through aiosqlite, WAL mode, migrations applied on open.

Several broker processes may share one database file; every single-use operation is a single
conditional UPDATE, which SQLite serialises across processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiosqlite

from broker.errors import StoreError
from broker.store import migrations
from broker.store.base import Consumed, Store
from broker.store.records import (
    ClientRecord,
    CodeRecord,
    GrantRecord,
    LogoutDelivery,
    SessionRecord,
    TokenRecord,
    TransactionRecord,
    UpstreamLogout,
    UpstreamSession,
)
from broker.store.sqlite_accounts import SQLiteAccountStore

Row = sqlite3.Row


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _create_private(path: Path) -> None:
    """The database file made 0600 before SQLite opens it: SQLite gives its `-wal` and `-shm`
    files the database file's mode, so none of the three is ever readable by others."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


class SQLiteStore(Store):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One connection serves every coroutine, so a statement run while another coroutine's
        # transaction is open would join it: it would read that transaction's (possibly stale)
        # snapshot, and a write would commit or roll back with it. Every statement and every
        # transaction therefore takes this lock.
        self._lock = asyncio.Lock()
        self._accounts = SQLiteAccountStore(self)

    @property
    def accounts(self) -> SQLiteAccountStore:
        return self._accounts

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            _create_private(self._path)
            self._db = await aiosqlite.connect(self._path, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                "busy_timeout=5000",
                "secure_delete=ON",  # deleted rows are overwritten, not left in free pages
            ):
                await self._db.execute_fetchall(f"PRAGMA {pragma}")
            await self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite store at {self._path}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        async with self.db.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        for version, name, sql in migrations.load("sqlite"):
            if version in done:
                continue
            async with self._transaction() as db:
                for statement in _statements(sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
                )

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; IMMEDIATE takes SQLite's write lock at once, so other processes
        wait for it instead of failing at the first write."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    # Each helper is one round trip to aiosqlite's thread: `async with execute()` plus fetch and
    # close would be three, and those trips, not the SQL, dominate a token redemption's CPU.
    async def _one(self, sql: str, params: Iterable[Any]) -> Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            try:
                return list(await self.db.execute_fetchall(sql, tuple(params)))
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    async def _run(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._lock:
            try:
                cursor = await self.db.execute(sql, tuple(params))
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc
        return cursor.rowcount

    # clients
    async def put_client(self, client: ClientRecord) -> None:
        body = asdict(client)
        await self._run(
            "INSERT INTO clients (client_id, body, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET body = excluded.body",
            (client.client_id, _dump(body), client.created_at),
        )

    async def get_client(self, client_id: str) -> ClientRecord | None:
        row = await self._one("SELECT body FROM clients WHERE client_id = ?", (client_id,))
        return None if row is None else _client(row["body"])

    async def list_clients(self) -> list[ClientRecord]:
        rows = await self._all("SELECT body FROM clients ORDER BY client_id")
        return [_client(row["body"]) for row in rows]

    async def delete_client(self, client_id: str, now: float) -> bool:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE grants SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                (now, client_id),
            )
            async with db.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)) as cur:
                return cur.rowcount > 0

    # login transactions
    async def put_transaction(self, tx: TransactionRecord) -> None:
        await self._run(
            "INSERT INTO transactions "
            "(tx_id, client_id, request, data, created_at, expires_at, relay_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tx_id) DO UPDATE SET "
            "data = excluded.data, expires_at = excluded.expires_at, "
            "relay_hash = excluded.relay_hash",
            (
                tx.tx_id,
                tx.client_id,
                _dump(tx.request),
                _dump(tx.data),
                tx.created_at,
                tx.expires_at,
                tx.relay_hash,
            ),
        )

    async def get_transaction(self, tx_id: str) -> TransactionRecord | None:
        row = await self._one("SELECT * FROM transactions WHERE tx_id = ?", (tx_id,))
        return None if row is None else _transaction(row)

    async def get_transaction_by_relay(self, relay_hash: str) -> TransactionRecord | None:
        row = await self._one("SELECT * FROM transactions WHERE relay_hash = ?", (relay_hash,))
        return None if row is None else _transaction(row)

    async def delete_transaction(self, tx_id: str) -> bool:
        return await self._run("DELETE FROM transactions WHERE tx_id = ?", (tx_id,)) > 0

    # sessions
    async def update_session_claims(self, sid: str, claims: dict[str, Any]) -> None:
        await self._run("UPDATE sessions SET claims = ? WHERE sid = ?", (_dump(claims), sid))

    async def put_session(self, session: SessionRecord) -> None:
        await self._run(
            "INSERT INTO sessions (sid, sub, auth_time, acr, amr, claims, created_at, expires_at, "
            "ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.sid,
                session.sub,
                session.auth_time,
                session.acr,
                _dump(list(session.amr)),
                _dump(session.claims),
                session.created_at,
                session.expires_at,
                session.ended_at,
            ),
        )

    async def get_session(self, sid: str) -> SessionRecord | None:
        row = await self._one("SELECT * FROM sessions WHERE sid = ?", (sid,))
        if row is None:
            return None
        return SessionRecord(
            sid=row["sid"],
            sub=row["sub"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=_tuple(row["amr"]),
            claims=json.loads(row["claims"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            ended_at=row["ended_at"],
        )

    async def end_session(self, sid: str, now: float) -> list[str]:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE sessions SET ended_at = ? WHERE sid = ? AND ended_at IS NULL", (now, sid)
            )
            await db.execute(
                "UPDATE grants SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL", (now, sid)
            )
            async with db.execute(
                "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id", (sid,)
            ) as cur:
                return [row[0] for row in await cur.fetchall()]

    async def end_subject(
        self, sub: str, client_subjects: Sequence[tuple[str, str]], now: float
    ) -> list[tuple[str, list[str]]]:
        async with self._transaction() as db:
            async with db.execute(
                "SELECT sid FROM sessions WHERE sub = ? AND ended_at IS NULL ORDER BY sid", (sub,)
            ) as cur:
                sids = [row[0] for row in await cur.fetchall()]
            await db.execute(
                "UPDATE sessions SET claims = '{}', ended_at = coalesce(ended_at, ?) WHERE sub = ?",
                (now, sub),
            )
            await db.executemany(
                "UPDATE grants SET claims = '{}', revoked_at = coalesce(revoked_at, ?) "
                "WHERE client_id = ? AND sub = ?",
                [(now, client_id, client_sub) for client_id, client_sub in client_subjects],
            )
            ended = []
            for sid in sids:
                async with db.execute(
                    "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id", (sid,)
                ) as cur:
                    ended.append((sid, [row[0] for row in await cur.fetchall()]))
            return ended

    async def add_session_client(self, sid: str, client_id: str) -> None:
        await self._run(
            "INSERT INTO session_clients (sid, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (sid, client_id),
        )

    # grants, codes, tokens
    async def put_grant(self, grant: GrantRecord, code: CodeRecord) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO grants (grant_id, client_id, sub, sid, scope, nonce, auth_time, acr, "
                "amr, claims, created_at, expires_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant.grant_id,
                    grant.client_id,
                    grant.sub,
                    grant.sid,
                    _dump(list(grant.scope)),
                    grant.nonce,
                    grant.auth_time,
                    grant.acr,
                    _dump(list(grant.amr)),
                    _dump(grant.claims),
                    grant.created_at,
                    grant.expires_at,
                    grant.revoked_at,
                ),
            )
            await db.execute(
                "INSERT INTO codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, "
                "code_challenge_method, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code.code_hash,
                    code.grant_id,
                    code.client_id,
                    code.redirect_uri,
                    code.code_challenge,
                    code.code_challenge_method,
                    code.expires_at,
                    code.used_at,
                ),
            )

    async def get_grant(self, grant_id: str) -> GrantRecord | None:
        row = await self._one("SELECT * FROM grants WHERE grant_id = ?", (grant_id,))
        if row is None:
            return None
        return GrantRecord(
            grant_id=row["grant_id"],
            client_id=row["client_id"],
            sub=row["sub"],
            sid=row["sid"],
            scope=_tuple(row["scope"]),
            nonce=row["nonce"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=_tuple(row["amr"]),
            claims=json.loads(row["claims"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
        )

    async def revoke_grant(self, grant_id: str, now: float) -> None:
        await self._run(
            "UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
            (now, grant_id),
        )

    async def consume_code(
        self, code_hash: str, client_id: str, now: float
    ) -> Consumed[CodeRecord] | None:
        first = await self._run(
            "UPDATE codes SET used_at = ? WHERE code_hash = ? AND client_id = ? "
            "AND used_at IS NULL",
            (now, code_hash, client_id),
        )
        row = await self._one(
            "SELECT * FROM codes WHERE code_hash = ? AND client_id = ?", (code_hash, client_id)
        )
        if row is None:
            return None
        return Consumed(record=CodeRecord(**dict(row)), first_use=first == 1)

    async def put_tokens(self, tokens: list[TokenRecord]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO tokens (token_hash, kind, grant_id, client_id, sub, scope, issued_at, "
                "expires_at, used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.token_hash,
                        t.kind,
                        t.grant_id,
                        t.client_id,
                        t.sub,
                        _dump(list(t.scope)),
                        t.issued_at,
                        t.expires_at,
                        t.used_at,
                        t.revoked_at,
                    )
                    for t in tokens
                ],
            )

    async def get_token(self, token_hash: str) -> TokenRecord | None:
        row = await self._one("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
        return None if row is None else _token(row)

    async def consume_refresh_token(
        self, token_hash: str, client_id: str, now: float
    ) -> Consumed[TokenRecord] | None:
        first = await self._run(
            "UPDATE tokens SET used_at = ? WHERE token_hash = ? AND client_id = ? "
            "AND kind = 'refresh' AND used_at IS NULL",
            (now, token_hash, client_id),
        )
        row = await self._one(
            "SELECT * FROM tokens WHERE token_hash = ? AND client_id = ? AND kind = 'refresh'",
            (token_hash, client_id),
        )
        if row is None:
            return None
        return Consumed(record=_token(row), first_use=first == 1)

    async def revoke_token(self, token_hash: str, now: float) -> None:
        await self._run(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (now, token_hash),
        )

    async def remember_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        added = await self._run(
            "INSERT INTO seen_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (issuer, jti, expires_at),
        )
        return added == 1

    # rate limits
    async def count_hit(self, counter: str, window_start: int, expires_at: float) -> int:
        row = await self._one(
            "INSERT INTO rate_counters (counter, window_start, hits, expires_at) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (counter, window_start) "
            "DO UPDATE SET hits = hits + 1 RETURNING hits",
            (counter, window_start, expires_at),
        )
        return int(row[0]) if row is not None else 1

    # back-channel logout outbox
    async def enqueue_logouts(self, deliveries: list[LogoutDelivery]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO logout_outbox (delivery_id, client_id, uri, sub, sid, attempts, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (d.delivery_id, d.client_id, d.uri, d.sub, d.sid, d.attempts, d.next_attempt_at)
                    for d in deliveries
                ],
            )

    async def claim_due_logouts(
        self, now: float, lease_seconds: float, limit: int
    ) -> list[LogoutDelivery]:
        async with self._transaction() as db:
            async with db.execute(
                "SELECT * FROM logout_outbox WHERE next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?",
                (now, limit),
            ) as cur:
                rows = list(await cur.fetchall())
            await db.executemany(
                "UPDATE logout_outbox SET next_attempt_at = ? WHERE delivery_id = ?",
                [(now + lease_seconds, row["delivery_id"]) for row in rows],
            )
        return [LogoutDelivery(**dict(row)) for row in rows]

    async def finish_logout(self, delivery_id: str) -> None:
        await self._run("DELETE FROM logout_outbox WHERE delivery_id = ?", (delivery_id,))

    async def retry_logout(self, delivery_id: str, attempts: int, next_attempt_at: float) -> None:
        await self._run(
            "UPDATE logout_outbox SET attempts = ?, next_attempt_at = ? WHERE delivery_id = ?",
            (attempts, next_attempt_at, delivery_id),
        )

    # upstream sessions and single logout
    async def put_upstream_session(self, sid: str, upstream: UpstreamSession) -> None:
        await self._run(
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
        row = await self._one("SELECT * FROM upstream_sessions WHERE sid = ?", (sid,))
        if row is None:
            return None
        data = dict(row)
        del data["sid"]
        return UpstreamSession(**data)

    async def find_upstream_sessions(
        self, idp_id: str, name_id: str, session_indexes: tuple[str, ...]
    ) -> list[str]:
        rows = await self._all(
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
        await self._run(
            "INSERT INTO upstream_logouts (logout_id, idp_id, request_id, target, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                logout.logout_id,
                logout.idp_id,
                logout.request_id,
                _dump(logout.target),
                logout.created_at,
                logout.expires_at,
            ),
        )

    async def get_upstream_logout(self, logout_id: str) -> UpstreamLogout | None:
        row = await self._one("SELECT * FROM upstream_logouts WHERE logout_id = ?", (logout_id,))
        if row is None:
            return None
        data = dict(row)
        data["target"] = json.loads(data["target"])
        return UpstreamLogout(**data)

    async def finish_upstream_logout(self, logout_id: str) -> bool:
        deleted = await self._run("DELETE FROM upstream_logouts WHERE logout_id = ?", (logout_id,))
        return deleted > 0

    async def holds_identities(self) -> bool:
        row = await self._one(
            "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM account_links) "
            "OR EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM grants)",
            (),
        )
        return row is not None and bool(row[0])

    async def purge_expired(self, now: float) -> int:
        total = 0
        async with self._transaction() as db:
            for sql in (
                "DELETE FROM transactions WHERE expires_at < ?",
                "DELETE FROM seen_jtis WHERE expires_at < ?",
                "DELETE FROM grants WHERE expires_at < ?",
                "DELETE FROM sessions WHERE expires_at < ?",
                "DELETE FROM upstream_logouts WHERE expires_at < ?",
                "DELETE FROM rate_counters WHERE expires_at < ?",
                "DELETE FROM email_codes WHERE expires_at < ? - 3600",  # "expired" a while
            ):
                async with db.execute(sql, (now,)) as cur:
                    total += cur.rowcount
        return total


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _client(body: str) -> ClientRecord:
    data = json.loads(body)
    for key in ("redirect_uris", "post_logout_redirect_uris", "allowed_scopes", "grant_types"):
        data[key] = tuple(data[key])
    return ClientRecord(**data)


def _token(row: Row) -> TokenRecord:
    data = dict(row)
    data["scope"] = _tuple(data["scope"])
    return TokenRecord(**data)


def _transaction(row: Row) -> TransactionRecord:
    return TransactionRecord(
        tx_id=row["tx_id"],
        client_id=row["client_id"],
        request=json.loads(row["request"]),
        data=json.loads(row["data"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        relay_hash=row["relay_hash"],
    )
