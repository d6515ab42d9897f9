"""Professional accounts in the SQLite store (`broker.store.accounts` is the contract).

Each write is one IMMEDIATE transaction on the store's connection, so SQLite serialises it with
every other process's: a registration checks that neither the link nor the person has an account
and inserts, with nobody able to slip in between.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import aiosqlite

from broker.errors import StoreError
from broker.store.accounts import (
    AccountExistsError,
    AccountRecord,
    AccountStore,
    AuditEntry,
    CodeCheck,
    EmailCodeRecord,
    LinkRecord,
    OrgKind,
    PartnerOrganisationRecord,
    PersonMismatchError,
)

if TYPE_CHECKING:
    from broker.store.sqlite import SQLiteStore

Row = sqlite3.Row


class SQLiteAccountStore(AccountStore):
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    # -- the catalogue ---------------------------------------------------------------------
    async def replace_partner_organisations(
        self, organisations: Sequence[PartnerOrganisationRecord], now: float
    ) -> tuple[int, int, int]:
        wanted = {org.org_id: org for org in organisations}
        async with self._store._transaction() as db:
            rows = await db.execute_fetchall("SELECT * FROM partner_organisations")
            known = {row["org_id"]: _organisation(row) for row in cast(list[Row], rows)}
            added = updated = 0
            for org in wanted.values():
                if org.org_id not in known:
                    added += 1
                elif known[org.org_id] != org:
                    updated += 1
                else:
                    continue
                await db.execute(
                    "INSERT OR REPLACE INTO partner_organisations (org_id, kind, code, name_fi, "
                    "name_sv, name_en, idp_id, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                    "?, ?)",
                    (
                        org.org_id,
                        org.kind,
                        org.code,
                        org.names["fi"],
                        org.names["sv"],
                        org.names["en"],
                        org.idp_id,
                        int(org.active),
                        now,
                    ),
                )
            gone = [key for key, org in known.items() if key not in wanted and org.active]
            for org_id in gone:
                await db.execute(
                    "UPDATE partner_organisations SET active = 0, updated_at = ? WHERE org_id = ?",
                    (now, org_id),
                )
        return added, updated, len(gone)

    async def partner_organisations(
        self, *, include_inactive: bool = False
    ) -> list[PartnerOrganisationRecord]:
        where = "" if include_inactive else " WHERE active = 1"
        sql = f"SELECT * FROM partner_organisations{where} ORDER BY org_id"  # noqa: S608
        rows = await self._store._all(sql)
        return [_organisation(row) for row in rows]

    # -- accounts --------------------------------------------------------------------------
    async def register_account(
        self,
        account: AccountRecord,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
    ) -> None:
        try:
            async with self._store._transaction() as db:
                await _refuse_taken(db, link.link_hash, person_hash, account.account_id)
                await db.execute(
                    "INSERT INTO accounts (account_id, phone, email, email_verified_at, "
                    "created_at, updated_at, language) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        account.account_id,
                        account.phone,
                        account.email,
                        account.email_verified_at,
                        account.created_at,
                        account.updated_at,
                        account.language,
                    ),
                )
                await _put_partners(db, account)
                await _insert_link(db, link)
                if person_hash is not None:
                    await db.execute(
                        "INSERT INTO account_person_ids (person_hash, account_id) VALUES (?, ?)",
                        (person_hash, account.account_id),
                    )
                await _audit(db, audit)
        except sqlite3.Error as exc:
            raise StoreError(f"registration failed: {exc}") from exc

    async def get_account(self, account_id: str) -> AccountRecord | None:
        return await self._account("SELECT * FROM accounts WHERE account_id = ?", (account_id,))

    async def account_by_link(self, link_hash: str) -> AccountRecord | None:
        return await self._account(
            "SELECT a.* FROM accounts a JOIN account_links l USING (account_id) "
            "WHERE l.link_hash = ?",
            (link_hash,),
        )

    async def account_by_person(self, person_hash: str) -> AccountRecord | None:
        return await self._account(
            "SELECT a.* FROM accounts a JOIN account_person_ids p USING (account_id) "
            "WHERE p.person_hash = ?",
            (person_hash,),
        )

    async def update_account(self, account: AccountRecord, audit: AuditEntry) -> bool:
        try:
            async with self._store._transaction() as db:
                cursor = await db.execute(
                    "UPDATE accounts SET phone = ?, email = ?, email_verified_at = ?, "
                    "updated_at = ? WHERE account_id = ?",
                    (
                        account.phone,
                        account.email,
                        account.email_verified_at,
                        account.updated_at,
                        account.account_id,
                    ),
                )
                if cursor.rowcount != 1:
                    return False
                await db.execute(
                    "DELETE FROM account_partners WHERE account_id = ?", (account.account_id,)
                )
                await _put_partners(db, account)
                await _audit(db, audit)
        except sqlite3.Error as exc:
            raise StoreError(f"account update failed: {exc}") from exc
        return True

    async def add_link(
        self,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
        *,
        record_person: bool = True,
    ) -> None:
        try:
            async with self._store._transaction() as db:
                await _refuse_taken(db, link.link_hash, person_hash, link.account_id)
                await _insert_link(db, link)
                if person_hash is not None and record_person:
                    await db.execute(
                        "INSERT OR IGNORE INTO account_person_ids (person_hash, account_id) "
                        "VALUES (?, ?)",
                        (person_hash, link.account_id),
                    )
                await _audit(db, audit)
        except sqlite3.Error as exc:
            raise StoreError(f"linking failed: {exc}") from exc

    async def record_login(self, link_hash: str, now: float) -> None:
        await self._store._run(
            "UPDATE account_links SET last_login_at = ? WHERE link_hash = ?", (now, link_hash)
        )

    async def links(self, account_id: str) -> list[LinkRecord]:
        rows = await self._store._all(
            "SELECT * FROM account_links WHERE account_id = ? ORDER BY linked_at, link_hash",
            (account_id,),
        )
        return [_link(row) for row in rows]

    async def delete_account(self, account_id: str, audit: AuditEntry) -> bool:
        async with self._store._transaction() as db:
            cursor = await db.execute("DELETE FROM accounts WHERE account_id = ?", (account_id,))
            if cursor.rowcount != 1:
                return False
            await _audit(db, audit)
        return True

    async def purge_audit(self, before: float) -> int:
        return await self._store._run("DELETE FROM account_audit WHERE at < ?", (before,))

    async def add_audit(self, entry: AuditEntry) -> None:
        async with self._store._transaction() as db:
            await _audit(db, entry)

    async def audit_trail(self, account_id: str) -> list[AuditEntry]:
        rows = await self._store._all(
            "SELECT * FROM account_audit WHERE account_id = ? ORDER BY at, audit_id",
            (account_id,),
        )
        return [
            AuditEntry(
                account_id=row["account_id"],
                at=row["at"],
                action=row["action"],
                actor=row["actor"],
                route=row["route"],
                changes=json.loads(row["changes"]),
            )
            for row in rows
        ]

    # -- one-time e-mail codes -------------------------------------------------------------
    async def put_email_code(self, code: EmailCodeRecord, max_sends: int) -> bool:
        async with self._store._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO email_codes (tx_id, email, code_hash, expires_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tx_id) DO UPDATE SET email = excluded.email, "
                "code_hash = excluded.code_hash, expires_at = excluded.expires_at, "
                "attempts = 0, sends = sends + 1, used_at = NULL WHERE sends < ?",
                (code.tx_id, code.email, code.code_hash, code.expires_at, max_sends),
            )
            return cursor.rowcount == 1

    async def use_email_code(
        self, tx_id: str, email: str, code_hash: str, now: float, max_attempts: int
    ) -> CodeCheck:
        async with self._store._transaction() as db:
            rows = list(
                await db.execute_fetchall("SELECT * FROM email_codes WHERE tx_id = ?", (tx_id,))
            )
            row = rows[0] if rows else None
            if row is None or row["used_at"] is not None or row["email"] != email:
                return "missing"
            if row["attempts"] >= max_attempts:
                return "exhausted"
            if row["expires_at"] <= now:
                return "expired"
            if not hmac.compare_digest(row["code_hash"], code_hash):
                await db.execute(
                    "UPDATE email_codes SET attempts = attempts + 1 WHERE tx_id = ?", (tx_id,)
                )
                return "exhausted" if row["attempts"] + 1 >= max_attempts else "wrong"
            await db.execute("UPDATE email_codes SET used_at = ? WHERE tx_id = ?", (now, tx_id))
            return "ok"

    async def _account(self, sql: str, params: Iterable[Any]) -> AccountRecord | None:
        row = await self._store._one(sql, params)
        if row is None:
            return None
        partners = await self._store._all(
            "SELECT org_id FROM account_partners WHERE account_id = ? ORDER BY position",
            (row["account_id"],),
        )
        return AccountRecord(
            account_id=row["account_id"],
            phone=row["phone"],
            email=row["email"],
            partners=tuple(p["org_id"] for p in partners),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            email_verified_at=row["email_verified_at"],
            language=row["language"],
        )


async def _refuse_taken(
    db: aiosqlite.Connection, link_hash: str, person_hash: str | None, account_id: str
) -> None:
    """AccountExistsError if the link, or the person, belongs to an account other than
    `account_id`; PersonMismatchError if `account_id` belongs to another person. Inside the
    write transaction, so no other process can take either meanwhile."""
    if owner := await _scalar(
        db, "SELECT account_id FROM account_links WHERE link_hash = ?", link_hash
    ):
        raise AccountExistsError(owner)
    if person_hash is None:
        return
    sql = "SELECT account_id FROM account_person_ids WHERE person_hash = ?"
    if (owner := await _scalar(db, sql, person_hash)) and owner != account_id:
        raise AccountExistsError(owner)
    sql = "SELECT person_hash FROM account_person_ids WHERE account_id = ?"
    if (known := await _scalar(db, sql, account_id)) and known != person_hash:
        raise PersonMismatchError("the identities are of different people")


async def _scalar(db: aiosqlite.Connection, sql: str, value: str) -> str | None:
    rows = list(await db.execute_fetchall(sql, (value,)))
    return str(rows[0][0]) if rows else None


async def _put_partners(db: aiosqlite.Connection, account: AccountRecord) -> None:
    await db.executemany(
        "INSERT INTO account_partners (account_id, org_id, position) VALUES (?, ?, ?)",
        [(account.account_id, org_id, n) for n, org_id in enumerate(account.partners)],
    )


async def _insert_link(db: aiosqlite.Connection, link: LinkRecord) -> None:
    await db.execute(
        "INSERT INTO account_links (link_hash, account_id, idp_id, route, linked_at, "
        "last_login_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            link.link_hash,
            link.account_id,
            link.idp_id,
            link.route,
            link.linked_at,
            link.last_login_at,
        ),
    )


async def _audit(db: aiosqlite.Connection, entry: AuditEntry) -> None:
    await db.execute(
        "INSERT INTO account_audit (account_id, at, action, actor, route, changes) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            entry.account_id,
            entry.at,
            entry.action,
            entry.actor,
            entry.route,
            json.dumps(dict(entry.changes), sort_keys=True, ensure_ascii=False),
        ),
    )


def _organisation(row: Row) -> PartnerOrganisationRecord:
    return PartnerOrganisationRecord(
        org_id=row["org_id"],
        kind=cast(OrgKind, row["kind"]),
        names={"fi": row["name_fi"], "sv": row["name_sv"], "en": row["name_en"]},
        code=row["code"],
        idp_id=row["idp_id"],
        active=bool(row["active"]),
    )


def _link(row: Row) -> LinkRecord:
    return LinkRecord(
        link_hash=row["link_hash"],
        account_id=row["account_id"],
        idp_id=row["idp_id"],
        route=row["route"],
        linked_at=row["linked_at"],
        last_login_at=row["last_login_at"],
    )
