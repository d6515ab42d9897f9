"""Professional accounts in SQL, once for every backend (`broker.store.accounts` is the contract).

Each write is one transaction: a registration checks that neither the link nor the person has an
account and inserts, with nobody able to slip in between. SQLite's `BEGIN IMMEDIATE` serialises
the whole transaction across processes; PostgreSQL first takes advisory locks on the keys the
registration is about to claim, so two registrations of the same person queue and the second one
sees the first one's account.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import cast

from broker.store.accounts import (
    AccountExistsError,
    AccountRecord,
    AuditEntry,
    CodeCheck,
    EmailCodeRecord,
    LinkRecord,
    OrgKind,
    PartnerOrganisationRecord,
    PersonMismatchError,
)
from broker.store.audit import insert as insert_audit
from broker.store.connection import Connection, Params, Row, Statements, for_update

__all__ = ["SQLAccounts"]


class SQLAccounts:
    def __init__(self, db: Connection) -> None:
        self._db = db

    # -- the catalogue ---------------------------------------------------------------------
    async def replace_partner_organisations(
        self, organisations: Sequence[PartnerOrganisationRecord], now: float
    ) -> tuple[int, int, int]:
        wanted = {org.org_id: org for org in organisations}
        async with self._db.transaction() as db:
            rows = await db.all(for_update(db, "SELECT * FROM partner_organisations"))
            known = {row["org_id"]: _organisation(row) for row in rows}
            changed = [org for org in wanted.values() if known.get(org.org_id) != org]
            for org in changed:
                await _put_organisation(db, org, now)
            gone = [key for key, org in known.items() if key not in wanted and org.active]
            for org_id in gone:
                await db.run(
                    "UPDATE partner_organisations SET active = 0, updated_at = ? WHERE org_id = ?",
                    (now, org_id),
                )
        added = sum(1 for org in changed if org.org_id not in known)
        return added, len(changed) - added, len(gone)

    async def partner_organisations(
        self, *, include_inactive: bool = False
    ) -> list[PartnerOrganisationRecord]:
        where = "" if include_inactive else " WHERE active = 1"
        sql = f"SELECT * FROM partner_organisations{where} ORDER BY org_id"  # noqa: S608
        return [_organisation(row) for row in await self._db.all(sql)]

    # -- accounts --------------------------------------------------------------------------
    async def register_account(
        self,
        account: AccountRecord,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
    ) -> None:
        async with self._db.transaction() as db:
            await _refuse_taken(db, link.link_hash, person_hash, account.account_id)
            await db.run(
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
                await db.run(
                    "INSERT INTO account_person_ids (person_hash, account_id) VALUES (?, ?)",
                    (person_hash, account.account_id),
                )
            await insert_audit(db, audit)

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
        async with self._db.transaction() as db:
            updated = await db.run(
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
            if updated != 1:
                return False
            await db.run("DELETE FROM account_partners WHERE account_id = ?", (account.account_id,))
            await _put_partners(db, account)
            await insert_audit(db, audit)
        return True

    async def add_link(
        self,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
        *,
        record_person: bool = True,
    ) -> None:
        async with self._db.transaction() as db:
            await _refuse_taken(db, link.link_hash, person_hash, link.account_id)
            await _insert_link(db, link)
            if person_hash is not None and record_person:
                await db.run(
                    "INSERT INTO account_person_ids (person_hash, account_id) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (person_hash, link.account_id),
                )
            await insert_audit(db, audit)

    async def record_login(self, link_hash: str, now: float) -> None:
        await self._db.run(
            "UPDATE account_links SET last_login_at = ? WHERE link_hash = ?", (now, link_hash)
        )

    async def links(self, account_id: str) -> list[LinkRecord]:
        rows = await self._db.all(
            "SELECT * FROM account_links WHERE account_id = ? ORDER BY linked_at, link_hash",
            (account_id,),
        )
        return [LinkRecord(**row) for row in rows]

    async def delete_account(self, account_id: str, audit: AuditEntry) -> bool:
        async with self._db.transaction() as db:
            if await db.run("DELETE FROM accounts WHERE account_id = ?", (account_id,)) != 1:
                return False
            await insert_audit(db, audit)
        return True

    # -- one-time e-mail codes -------------------------------------------------------------
    async def put_email_code(self, code: EmailCodeRecord, max_sends: int) -> bool:
        changed = await self._db.run(
            "INSERT INTO email_codes (tx_id, email, code_hash, expires_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (tx_id) DO UPDATE SET email = excluded.email, "
            "code_hash = excluded.code_hash, expires_at = excluded.expires_at, "
            "attempts = 0, sends = email_codes.sends + 1, used_at = NULL "
            "WHERE email_codes.sends < ?",
            (code.tx_id, code.email, code.code_hash, code.expires_at, max_sends),
        )
        return changed == 1

    async def use_email_code(
        self, tx_id: str, email: str, code_hash: str, now: float, max_attempts: int
    ) -> CodeCheck:
        async with self._db.transaction() as db:
            sql = for_update(db, "SELECT * FROM email_codes WHERE tx_id = ?")
            row = await db.one(sql, (tx_id,))
            if row is None or row["used_at"] is not None or row["email"] != email:
                return "missing"
            if row["attempts"] >= max_attempts:
                return "exhausted"
            if row["expires_at"] <= now:
                return "expired"
            if not hmac.compare_digest(row["code_hash"], code_hash):
                await db.run(
                    "UPDATE email_codes SET attempts = attempts + 1 WHERE tx_id = ?", (tx_id,)
                )
                return "exhausted" if row["attempts"] + 1 >= max_attempts else "wrong"
            await db.run("UPDATE email_codes SET used_at = ? WHERE tx_id = ?", (now, tx_id))
            return "ok"

    async def _account(self, sql: str, params: Params) -> AccountRecord | None:
        row = await self._db.one(sql, params)
        if row is None:
            return None
        partners = await self._db.all(
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
    db: Statements, link_hash: str, person_hash: str | None, account_id: str
) -> None:
    """AccountExistsError if the link, or the person, belongs to an account other than
    `account_id`; PersonMismatchError if `account_id` belongs to another person. Inside the
    write transaction, after taking the keys' locks, so nobody can take either meanwhile."""
    if db.dialect == "postgresql":
        for key in sorted({link_hash, person_hash or link_hash}):  # one order: no deadlock
            await db.run("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))
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


async def _scalar(db: Statements, sql: str, value: str) -> str | None:
    row = await db.one(sql, (value,))
    return None if row is None else str(next(iter(row.values())))


async def _put_organisation(db: Statements, org: PartnerOrganisationRecord, now: float) -> None:
    await db.run(
        "INSERT INTO partner_organisations (org_id, kind, code, name_fi, name_sv, name_en, "
        "idp_id, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (org_id) DO UPDATE SET kind = excluded.kind, code = excluded.code, "
        "name_fi = excluded.name_fi, name_sv = excluded.name_sv, name_en = excluded.name_en, "
        "idp_id = excluded.idp_id, active = excluded.active, updated_at = excluded.updated_at",
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


async def _put_partners(db: Statements, account: AccountRecord) -> None:
    await db.run_many(
        "INSERT INTO account_partners (account_id, org_id, position) VALUES (?, ?, ?)",
        [(account.account_id, org_id, n) for n, org_id in enumerate(account.partners)],
    )


async def _insert_link(db: Statements, link: LinkRecord) -> None:
    await db.run(
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


def _organisation(row: Row) -> PartnerOrganisationRecord:
    return PartnerOrganisationRecord(
        org_id=row["org_id"],
        kind=cast(OrgKind, row["kind"]),
        names={"fi": row["name_fi"], "sv": row["name_sv"], "en": row["name_en"]},
        code=row["code"],
        idp_id=row["idp_id"],
        active=bool(row["active"]),
    )
