"""Finding, linking and registering professional accounts for a person an upstream IdP has just
identified. Never by e-mail or name: only by

    the link         a keyed hash of (upstream issuer, subject): this route has logged in before
    the person       a keyed hash of a valid national identity code, where the route supplied one
                     and is trusted for it (`trust_identity_code`: Suomi.fi), at a level of
                     assurance its `identity_code_acr` lists: the same person by another route,
                     who is then linked to the account they already have

A trusted IdP's code below that level finds and records nothing; it still keeps two people apart
(a link between logins whose codes differ is refused), and if its code already has an account,
the login stops at a page asking for a stronger login (LinkAssuranceError) rather than making a
second account. Every new link is audited and announced by e-mail to the account's address.

Both hashes use the broker's subject key with their own purpose label, so neither equals the
portal's `sub` nor another purpose's hash, and the store never holds a subject or code in clear.
A person whose routes cannot prove they are the same person gets a second account unless they
link it by logging in with the other route once (the account page, later).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from broker.accounts.catalogue import Catalogue
from broker.accounts.contact import normalise_email, normalise_phone
from broker.accounts.link_notice import LinkNotices
from broker.claims.hetu import HetuError, parse_hetu
from broker.claims.identity import Identity
from broker.clock import Clock
from broker.errors import FormInputError, LinkAssuranceError
from broker.store.accounts import (
    AccountExistsError,
    AccountRecord,
    AccountStore,
    AuditEntry,
    LinkRecord,
)

__all__ = [
    "Accounts",
    "IdentityKeys",
    "Registration",
    "checked_partners",
    "identity_keys",
    "person_hash",
]

log = logging.getLogger(__name__)

MAX_PARTNERS = 20


@dataclass(frozen=True)
class IdentityKeys:
    """What the store may know of an upstream identity."""

    link_hash: str
    person_hash: str | None
    """The trusted IdP's identity code (None when it sent none, or is not trusted for it)."""
    idp_id: str
    route: str
    person_proven: bool = False
    """The code came at a level that may find, link and record an account by it."""

    @property
    def proven_person(self) -> str | None:
        return self.person_hash if self.person_proven else None


def identity_keys(identity: Identity, key: bytes, *, link_acr: Collection[str]) -> IdentityKeys:
    """`identity.hetu` is there only from an IdP trusted for it (`broker.claims.mapping`);
    `link_acr` are the levels at which that IdP's code may find an account."""
    person = None
    if identity.hetu:
        try:
            person = person_hash(identity.hetu, key)
        except HetuError:
            log.warning("idp %s: the identity code is not valid; not used", identity.idp_id)
    return IdentityKeys(
        link_hash=_keyed(key, "account-link", identity.issuer, identity.subject),
        person_hash=person,
        idp_id=identity.idp_id,
        route=identity.route,
        person_proven=person is not None and identity.acr in link_acr,
    )


def person_hash(hetu: str, key: bytes) -> str:
    """The keyed hash of a valid identity code (HetuError otherwise): how the store knows the
    person, e.g. for a data-subject request."""
    return _keyed(key, "person", parse_hetu(hetu).value)


def _keyed(key: bytes, purpose: str, *parts: str) -> str:
    message = "\x00".join((purpose, *parts)).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_account_id() -> str:
    """160 random bits as 32 lower-case base32 characters: the local subject of the account,
    shaped like every other `sub` the broker gives (a public client sees it as it is)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


@dataclass(frozen=True)
class Registration:
    """What the person typed on the registration page (not yet normalised)."""

    phone: str
    email: str
    partners: Sequence[str]


class Accounts:
    def __init__(
        self, store: AccountStore, clock: Clock, notices: LinkNotices | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._notices = notices

    async def find(self, keys: IdentityKeys) -> AccountRecord | None:
        """The person's account by this route's link, else by their identity code where it is
        proven enough (then this route is linked to it now); None means the person registers
        first. LinkAssuranceError: the code has an account, but this login is too weak to
        link to it (registering would make the person a second one)."""
        account = await self._store.account_by_link(keys.link_hash)
        if account is None and keys.person_hash is not None:
            account = await self._store.account_by_person(keys.person_hash)
            if account is not None and not keys.person_proven:
                raise LinkAssuranceError(f"route {keys.idp_id}: below the level for linking")
            if account is not None:
                await self.link(account, keys, proof="identity code")
        if account is not None:
            await self._store.record_login(keys.link_hash, self._clock.now())
        return account

    async def register(
        self,
        keys: IdentityKeys,
        typed: Registration,
        catalogue: Catalogue,
        *,
        email_verified: bool = False,
        language: str = "fi",
    ) -> AccountRecord:
        """A new account, or FormInputError naming the field to correct. A second submission
        (a double click, or two tabs racing) gets the account the first one made.
        `email_verified`: the person typed the code sent to the address; `language`: the one
        they registered in, for the mail the broker sends them later. The identity code is
        recorded only where proven enough to find the account by it."""
        account = self._new_account(
            normalise_phone(typed.phone),
            normalise_email(typed.email),
            checked_partners(typed.partners, catalogue),
            email_verified=email_verified,
            language=language,
        )
        return await self._save_new(account, keys, {})

    async def register_automatic(
        self,
        keys: IdentityKeys,
        *,
        phone: str,
        email: str,
        partners: Sequence[str],
        email_verified: bool,
        language: str,
    ) -> AccountRecord:
        """An account made at the first login of a route with `registration: automatic`, from
        what its IdP said (already normalised; empty where it said nothing usable). The e-mail
        address counts as verified only where the IdP is configured as verifying it."""
        account = self._new_account(
            phone,
            email,
            tuple(partners),
            email_verified=email_verified and bool(email),
            language=language,
        )
        return await self._save_new(account, keys, {"automatic": True})

    def _new_account(
        self,
        phone: str,
        email: str,
        partners: tuple[str, ...],
        *,
        email_verified: bool,
        language: str,
    ) -> AccountRecord:
        now = self._clock.now()
        return AccountRecord(
            account_id=new_account_id(),
            phone=phone,
            email=email,
            partners=partners,
            created_at=now,
            updated_at=now,
            email_verified_at=now if email_verified else None,
            language=language,
        )

    async def _save_new(
        self, account: AccountRecord, keys: IdentityKeys, extra: dict[str, object]
    ) -> AccountRecord:
        link = self._new_link(account.account_id, keys)
        entry = AuditEntry(
            account.account_id,
            self._clock.now(),
            "registered",
            actor="self",
            route=keys.route,
            changes={"idp": keys.idp_id, "partners": list(account.partners), **extra},
        )
        try:
            await self._store.register_account(account, link, keys.proven_person, entry)
        except AccountExistsError as exists:
            found = await self._store.get_account(exists.account_id)
            if found is None:  # deleted in between: let the person try again
                raise
            return found
        log.info("account registered", extra={"idp": keys.idp_id})
        return account

    async def edit(
        self, account: AccountRecord, typed: Registration, catalogue: Catalogue, route: str | None
    ) -> AccountRecord:
        """The person's own edit on the account page; FormInputError names a field to correct.
        A changed e-mail address is no longer verified (its code was for the old one); the
        account page changes it only with a code (`change_email`), and passes the old one here."""
        same_email = typed.email == account.email
        edited = dataclasses.replace(
            account,
            phone=normalise_phone(typed.phone),
            email=account.email if same_email else normalise_email(typed.email),
            partners=checked_partners(typed.partners, catalogue),
            updated_at=self._clock.now(),
        )
        if edited.email != account.email:
            edited = dataclasses.replace(edited, email_verified_at=None)
        changed = [
            f for f in ("phone", "email", "partners") if getattr(edited, f) != getattr(account, f)
        ]
        if not changed:
            return account
        changes: dict[str, object] = {"fields": changed}
        if "partners" in changed:
            changes["partners"] = list(edited.partners)
        entry = AuditEntry(
            account.account_id,
            self._clock.now(),
            "edited",
            actor="self",
            route=route,
            changes=changes,
        )
        await self._store.update_account(edited, entry)
        log.info("account edited", extra={"fields": ",".join(changed)})
        return edited

    async def change_email(
        self, account: AccountRecord, email: str, route: str | None
    ) -> AccountRecord:
        """A new address, proved by the code sent to it (the caller checked it): verified now."""
        now = self._clock.now()
        changed = dataclasses.replace(account, email=email, email_verified_at=now, updated_at=now)
        entry = AuditEntry(
            account.account_id,
            now,
            "edited",
            actor="self",
            route=route,
            changes={"fields": ["email"], "confirmed": True},
        )
        await self._store.update_account(changed, entry)
        log.info("account e-mail address changed and confirmed")
        return changed

    async def delete(self, account: AccountRecord, route: str | None) -> None:
        """Gone with its links and identifiers; the audit trail (no personal data) stays for
        `accounts.audit_retention_days`."""
        entry = AuditEntry(
            account.account_id, self._clock.now(), "deleted", actor="self", route=route
        )
        await self._store.delete_account(account.account_id, entry)
        log.info("account deleted by its owner")

    async def get(self, account_id: str) -> AccountRecord | None:
        return await self._store.get_account(account_id)

    async def links(self, account_id: str) -> list[LinkRecord]:
        return await self._store.links(account_id)

    async def link(self, account: AccountRecord, keys: IdentityKeys, *, proof: str) -> None:
        """Let this route log in to the account too. `proof` says how the person showed it is
        theirs (the same identity code, or a login by both routes in one transaction). A code
        below the linking level is checked against the account's, never recorded. The account's
        address is told (audited in the same store transaction as the link)."""
        now = self._clock.now()
        entry = AuditEntry(
            account.account_id,
            now,
            "linked",
            actor="self",
            route=keys.route,
            changes={"idp": keys.idp_id, "proof": proof},
        )
        await self._store.add_link(
            self._new_link(account.account_id, keys),
            keys.person_hash,
            entry,
            record_person=keys.person_proven,
        )
        log.info("login route linked to an account", extra={"idp": keys.idp_id})
        if self._notices is not None:
            await self._notices.send(account, keys.idp_id, now)

    def _new_link(self, account_id: str, keys: IdentityKeys) -> LinkRecord:
        return LinkRecord(
            link_hash=keys.link_hash,
            account_id=account_id,
            idp_id=keys.idp_id,
            route=keys.route,
            linked_at=self._clock.now(),
        )


def checked_partners(chosen: Sequence[str], catalogue: Catalogue) -> tuple[str, ...]:
    """At least one, each on offer, each once, in the order chosen."""
    unique = tuple(dict.fromkeys(org_id for org_id in chosen if org_id))
    if not unique:
        raise FormInputError("partners", "missing")
    if len(unique) > MAX_PARTNERS or not all(catalogue.choosable(o) for o in unique):
        raise FormInputError("partners", "invalid")
    return unique
