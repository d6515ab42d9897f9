"""The store contract for professional accounts, their links and the partner-organisation
catalogue; small and async like the other aggregates of `broker.store`, the same for every
backend (its one SQL implementation: `broker.store.account_sql`; the audit trail:
`broker.store.audit`).

Identities arrive here already hashed (keyed, in `broker.accounts`): the store never sees an
upstream subject or a national identifier in clear. Registration is one atomic call whose unique
keys (the link, the person) decide a race: exactly one of two simultaneous registrations of the
same person succeeds, the other gets `AccountExistsError` naming the account that won.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from broker.errors import StoreError

__all__ = [
    "AccountExistsError",
    "AccountRecord",
    "AccountStore",
    "AuditEntry",
    "CodeCheck",
    "EmailCodeRecord",
    "LinkRecord",
    "OrgKind",
    "PartnerOrganisationRecord",
    "PersonMismatchError",
]

OrgKind: TypeAlias = Literal["organisation", "wellbeing_area", "school", "municipality"]


class AccountExistsError(StoreError):
    """The person already has an account (by this link or by their national identifier)."""

    def __init__(self, account_id: str) -> None:
        super().__init__("the person already has an account")
        self.account_id = account_id


class PersonMismatchError(StoreError):
    """The identity being linked is of another person than the account's (their national
    identifiers differ): never linked."""


@dataclass(frozen=True)
class PartnerOrganisationRecord:
    """One choosable partner organisation (yhteistyöorganisaatio). `idp_id` names the
    organisation's IdP where it is connected to the broker; an inactive one (dropped from the
    catalogue) stays on the accounts that chose it but is no longer offered."""

    org_id: str
    kind: OrgKind
    names: Mapping[str, str]
    code: str | None = None
    idp_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class AccountRecord:
    """A professional account. `partners` are org ids in the order the person chose them."""

    account_id: str
    phone: str
    email: str
    partners: tuple[str, ...]
    created_at: float
    updated_at: float
    email_verified_at: float | None = None
    language: str = "fi"
    """The language the person registered in (fi, sv, en): for the mail sent to them later."""


@dataclass(frozen=True)
class LinkRecord:
    """An upstream identity (as a keyed hash of issuer and subject) that logs in to an account."""

    link_hash: str
    account_id: str
    idp_id: str
    route: str
    linked_at: float
    last_login_at: float | None = None


@dataclass(frozen=True)
class AuditEntry:
    """`changes` says what changed: field names, org ids, the route's IdP; never an identity
    code, and no contact details (they are gone with an erased account, the trail is not)."""

    account_id: str
    at: float
    action: Literal["registered", "edited", "linked", "deleted", "exported", "erased"]
    actor: str
    route: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)


CodeCheck: TypeAlias = Literal["ok", "wrong", "expired", "exhausted", "missing"]


@dataclass(frozen=True)
class EmailCodeRecord:
    """A one-time code for proving `email` within the login transaction `tx_id`; only its keyed
    hash is stored."""

    tx_id: str
    email: str
    code_hash: str
    expires_at: float


class AccountStore(Protocol):
    # the catalogue
    async def replace_partner_organisations(
        self, organisations: Sequence[PartnerOrganisationRecord], now: float
    ) -> tuple[int, int, int]:
        """Make the catalogue these organisations: (added, updated, deactivated). An organisation
        missing from the new list is deactivated, never deleted (accounts may name it)."""

    async def partner_organisations(
        self, *, include_inactive: bool = False
    ) -> list[PartnerOrganisationRecord]:
        """Ordered by id."""

    # accounts
    async def register_account(
        self,
        account: AccountRecord,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
    ) -> None:
        """Create the account with its first link (and the person's identifier), atomically.
        AccountExistsError if the link or the person already belongs to an account; then
        nothing is written. StoreError if a partner organisation is unknown."""

    async def get_account(self, account_id: str) -> AccountRecord | None: ...

    async def account_by_link(self, link_hash: str) -> AccountRecord | None: ...

    async def account_by_person(self, person_hash: str) -> AccountRecord | None: ...

    async def update_account(self, account: AccountRecord, audit: AuditEntry) -> bool:
        """Replace phone, e-mail, its verification and the partners; False if there is no such
        account."""

    async def add_link(
        self,
        link: LinkRecord,
        person_hash: str | None,
        audit: AuditEntry,
        *,
        record_person: bool = True,
    ) -> None:
        """Link another upstream identity (and, with `record_person`, the person's identifier,
        if the account has none yet) to the account. AccountExistsError if either belongs to
        another account; PersonMismatchError if the account has another person's identifier
        (checked whether or not it is recorded)."""

    async def record_login(self, link_hash: str, now: float) -> None: ...

    async def links(self, account_id: str) -> list[LinkRecord]: ...

    async def delete_account(self, account_id: str, audit: AuditEntry) -> bool:
        """Delete the account, its links and identifiers; the audit trail stays."""

    # one-time e-mail codes
    async def put_email_code(self, code: EmailCodeRecord, max_sends: int) -> bool:
        """Keep the transaction's new code (replacing an earlier one, its attempts reset);
        False, and nothing changed, once `max_sends` codes were sent in this transaction."""

    async def use_email_code(
        self, tx_id: str, email: str, code_hash: str, now: float, max_attempts: int
    ) -> CodeCheck:
        """Atomically: `ok` uses the code up; `wrong` counts an attempt; `exhausted` after
        `max_attempts` wrong ones; `expired`; `missing` (none sent, used, or for another
        address)."""
