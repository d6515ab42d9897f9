"""What one authorization produced: the grant, its single-use code, and every access and refresh
token that descends from it (revoking the grant revokes them all). Codes and tokens are kept only
as hashes. Redeeming a code and rotating a refresh token are each one conditional UPDATE, which
both backends apply once however many redemptions race."""

from __future__ import annotations

from typing import Protocol

from broker.store.columns import dump, load, strings
from broker.store.connection import Connection, Row
from broker.store.records import CodeRecord, Consumed, GrantRecord, TokenRecord

__all__ = ["GrantStore", "SQLGrants"]


class GrantStore(Protocol):
    async def put_grant(self, grant: GrantRecord, code: CodeRecord) -> None: ...

    async def get_grant(self, grant_id: str) -> GrantRecord | None: ...

    async def revoke_grant(self, grant_id: str, now: float) -> None:
        """Revoke the grant and so every token that descends from it."""

    async def consume_code(
        self, code_hash: str, client_id: str, now: float
    ) -> Consumed[CodeRecord] | None:
        """Mark the code used; None if unknown or issued to another client (which then leaves
        it unused). `first_use` is False on a second redemption."""

    async def put_tokens(self, tokens: list[TokenRecord]) -> None: ...

    async def get_token(self, token_hash: str) -> TokenRecord | None: ...

    async def consume_refresh_token(
        self, token_hash: str, client_id: str, now: float
    ) -> Consumed[TokenRecord] | None:
        """Mark a refresh token used for rotation; None if unknown or issued to another client
        (which then leaves it unused). `first_use` is False when it is replayed."""

    async def revoke_token(self, token_hash: str, now: float) -> None: ...


class SQLGrants:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def put_grant(self, grant: GrantRecord, code: CodeRecord) -> None:
        async with self._db.transaction() as db:
            await db.run(
                "INSERT INTO grants (grant_id, client_id, sub, sid, scope, nonce, auth_time, acr, "
                "amr, claims, created_at, expires_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant.grant_id,
                    grant.client_id,
                    grant.sub,
                    grant.sid,
                    dump(list(grant.scope)),
                    grant.nonce,
                    grant.auth_time,
                    grant.acr,
                    dump(list(grant.amr)),
                    dump(grant.claims),
                    grant.created_at,
                    grant.expires_at,
                    grant.revoked_at,
                ),
            )
            await db.run(
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
        row = await self._db.one("SELECT * FROM grants WHERE grant_id = ?", (grant_id,))
        if row is None:
            return None
        return GrantRecord(
            grant_id=row["grant_id"],
            client_id=row["client_id"],
            sub=row["sub"],
            sid=row["sid"],
            scope=strings(row["scope"]),
            nonce=row["nonce"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=strings(row["amr"]),
            claims=load(row["claims"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
        )

    async def revoke_grant(self, grant_id: str, now: float) -> None:
        await self._db.run(
            "UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
            (now, grant_id),
        )

    async def consume_code(
        self, code_hash: str, client_id: str, now: float
    ) -> Consumed[CodeRecord] | None:
        first = await self._db.run(
            "UPDATE codes SET used_at = ? WHERE code_hash = ? AND client_id = ? "
            "AND used_at IS NULL",
            (now, code_hash, client_id),
        )
        row = await self._db.one(
            "SELECT * FROM codes WHERE code_hash = ? AND client_id = ?", (code_hash, client_id)
        )
        if row is None:
            return None
        return Consumed(record=CodeRecord(**row), first_use=first == 1)

    async def put_tokens(self, tokens: list[TokenRecord]) -> None:
        await self._db.run_many(
            "INSERT INTO tokens (token_hash, kind, grant_id, client_id, sub, scope, issued_at, "
            "expires_at, used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    t.token_hash,
                    t.kind,
                    t.grant_id,
                    t.client_id,
                    t.sub,
                    dump(list(t.scope)),
                    t.issued_at,
                    t.expires_at,
                    t.used_at,
                    t.revoked_at,
                )
                for t in tokens
            ],
        )

    async def get_token(self, token_hash: str) -> TokenRecord | None:
        row = await self._db.one("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
        return None if row is None else _token(row)

    async def consume_refresh_token(
        self, token_hash: str, client_id: str, now: float
    ) -> Consumed[TokenRecord] | None:
        first = await self._db.run(
            "UPDATE tokens SET used_at = ? WHERE token_hash = ? AND client_id = ? "
            "AND kind = 'refresh' AND used_at IS NULL",
            (now, token_hash, client_id),
        )
        row = await self._db.one(
            "SELECT * FROM tokens WHERE token_hash = ? AND client_id = ? AND kind = 'refresh'",
            (token_hash, client_id),
        )
        if row is None:
            return None
        return Consumed(record=_token(row), first_use=first == 1)

    async def revoke_token(self, token_hash: str, now: float) -> None:
        await self._db.run(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (now, token_hash),
        )


def _token(row: Row) -> TokenRecord:
    row["scope"] = strings(row["scope"])
    return TokenRecord(**row)
