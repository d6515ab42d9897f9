"""The account stage of the login journey, after the upstream IdP has identified the person.

    callback ─ identity ─┬─ account by this route's link, or by the identity code ──▶ finish
                         └─ none yet: pending ─▶ /account/register ─▶ code by e-mail
                                 │                                    ─▶ /account/confirm
                                 │                                    ─▶ register ─▶ finish
                                 └─ "I already have an account": log in by another route once;
                                    the account found there gets this route linked too

What the IdP said waits in the login transaction (`pending`) while the person registers, and so
does the form as last sent (`draft`): a reload, Back or a refused field loses nothing typed.
The upstream login is not repeated: the transaction's expiry bounds how long it may wait.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broker.accounts.catalogue import Catalogue
from broker.accounts.contact import normalise_email, normalise_phone
from broker.accounts.email_codes import EmailCodes
from broker.accounts.service import (
    MAX_PARTNERS,
    Accounts,
    IdentityKeys,
    Registration,
    checked_partners,
)
from broker.claims.identity import Identity, RawIdentity
from broker.claims.sealed import Sealer
from broker.errors import AccountLinkError, FormInputError, TransactionError
from broker.store.accounts import AccountExistsError, AccountRecord, PersonMismatchError
from broker.store.records import UpstreamSession

__all__ = ["AccountStage", "Draft", "PendingLogin", "account_claims"]


@dataclass(frozen=True)
class PendingLogin:
    """An upstream login that found no account yet; JSON-friendly, for the transaction."""

    keys: IdentityKeys
    claims: dict[str, Any]
    acr: str | None
    amr: tuple[str, ...]
    upstream: UpstreamSession | None
    auth_time: float | None = None
    """When the IdP authenticated the person (its own session may be older than this login)."""
    municipality: str | None = None
    """The home municipality's code, to suggest at registration; never among `claims`."""

    @classmethod
    def of(
        cls, identity: Identity, raw: RawIdentity, keys: IdentityKeys, sealer: Sealer
    ) -> PendingLogin:
        claims = identity_claims(identity, sealer)
        return cls(
            keys,
            claims,
            identity.acr,
            identity.amr,
            raw.session,
            raw.auth_time,
            identity.municipality_code,
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "keys": dataclasses.asdict(self.keys),
            "claims": self.claims,
            "acr": self.acr,
            "amr": list(self.amr),
            "upstream": dataclasses.asdict(self.upstream) if self.upstream else None,
            "auth_time": self.auth_time,
            "municipality": self.municipality,
        }

    @classmethod
    def from_data(cls, data: object) -> PendingLogin:
        if not isinstance(data, dict):
            raise TransactionError("no upstream login waits for an account in this transaction")
        upstream = data.get("upstream")
        return cls(
            IdentityKeys(**data["keys"]),
            dict(data["claims"]),
            data.get("acr"),
            tuple(data.get("amr") or ()),
            UpstreamSession(**upstream) if isinstance(upstream, dict) else None,
            _number(data.get("auth_time")),
            data.get("municipality") if isinstance(data.get("municipality"), str) else None,
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def identity_claims(identity: Identity, sealer: Sealer) -> dict[str, Any]:
    """What the IdP said that portals may receive (by scope, see `broker.claims.release`); the
    identity code is among them, sealed, only where the route supplied one."""
    claims = {**identity.profile_claims(), "idp": identity.idp_id}
    if identity.hetu:
        claims["hetu"] = sealer.seal(identity.hetu)
    return claims


@dataclass(frozen=True)
class Draft:
    """The registration form as last sent: what the person typed, not yet checked."""

    phone: str = ""
    email: str = ""
    partners: tuple[str, ...] = ()
    eligible: bool = False
    """The person confirmed being a social or health-care professional or student."""

    @classmethod
    def from_data(cls, data: object) -> Draft | None:
        if not isinstance(data, dict):
            return None
        return cls(
            str(data.get("phone", "")),
            str(data.get("email", "")),
            tuple(str(p) for p in data.get("partners") or ()),
            data.get("eligible") is True,
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "email": self.email,
            "partners": list(self.partners),
            "eligible": self.eligible,
        }

    def with_partner(self, org_id: str) -> Draft:
        if org_id in self.partners or len(self.partners) >= MAX_PARTNERS:
            return self
        return dataclasses.replace(self, partners=(*self.partners, org_id))

    def without_partner(self, org_id: str) -> Draft:
        return dataclasses.replace(self, partners=tuple(p for p in self.partners if p != org_id))


@dataclass(frozen=True)
class Checked:
    """A draft after checking: normalised values, or the message id of each field to correct."""

    registration: Registration | None
    errors: Mapping[str, str]


class AccountStage:
    def __init__(self, accounts: Accounts, codes: EmailCodes, catalogue: Catalogue) -> None:
        self.accounts = accounts
        self.codes = codes
        self.catalogue = catalogue

    def first_draft(self, pending: PendingLogin) -> Draft:
        """Pre-filled from what the IdP said: its e-mail and phone, and the organisation the
        person logged in through, where that is a partner organisation."""
        claims = pending.claims
        own = [org.org_id for org in self.catalogue.by_idp(pending.keys.idp_id)]
        return Draft(
            phone=str(claims.get("phone_number") or ""),
            email=str(claims.get("email") or ""),
            partners=tuple(own[:1]),
        )

    def suggested_municipality(self, pending: PendingLogin) -> str | None:
        """The home municipality the IdP sent, as a catalogue entry to offer first (for private
        practitioners); None without one (or with address protection: see `claims.mapping`)."""
        org_id = f"municipality:{pending.municipality}" if pending.municipality else ""
        return org_id if self.catalogue.choosable(org_id) else None

    def check(self, draft: Draft, *, registering: bool = False) -> Checked:
        """Every field at once, so the page can say all that is wrong in one go; `registering`:
        the person must also confirm who may register."""
        errors: dict[str, str] = {}
        if registering and not draft.eligible:
            errors["eligible"] = "registration.eligible.missing"
        values: dict[str, str] = {}
        for name, normalise in (("phone", normalise_phone), ("email", normalise_email)):
            try:
                values[name] = normalise(getattr(draft, name))
            except FormInputError as exc:
                errors[name] = exc.message_id
        partners: tuple[str, ...] = ()
        try:
            partners = checked_partners(draft.partners, self.catalogue)
        except FormInputError as exc:
            errors["partners"] = exc.message_id
        if errors:
            return Checked(None, errors)
        return Checked(Registration(values["phone"], values["email"], partners), {})

    async def register(
        self,
        pending: PendingLogin,
        registration: Registration,
        others: Sequence[IdentityKeys],
        language: str = "fi",
    ) -> AccountRecord:
        """The account, once the e-mail code was confirmed; `others` are routes the person also
        logged in with in this transaction, which are linked to it as well. `language`: the
        one the person registered in, for the mail they get later."""
        account = await self.accounts.register(
            pending.keys, registration, self.catalogue, email_verified=True, language=language
        )
        linked = {pending.keys.link_hash}
        for keys in others:
            if keys.link_hash not in linked:
                linked.add(keys.link_hash)
                await self.link_second_route(account, keys)
        return account

    async def register_automatically(
        self, pending: PendingLogin, *, email_verified: bool, language: str
    ) -> AccountRecord | None:
        """The account of an organisation login (`registration: automatic`), from what its IdP
        said: its organisation as partner, its phone and e-mail where they are valid (else left
        empty, for the account page). None when the IdP's organisation is not in the catalogue:
        the person then registers on the form."""
        partners = [org.org_id for org in self.catalogue.by_idp(pending.keys.idp_id)][:1]
        if not partners:
            return None
        return await self.accounts.register_automatic(
            pending.keys,
            phone=_valid(normalise_phone, pending.claims.get("phone_number")),
            email=_valid(normalise_email, pending.claims.get("email")),
            partners=partners,
            email_verified=email_verified,
            language=language,
        )

    async def link_second_route(self, account: AccountRecord, keys: IdentityKeys) -> None:
        """Link a route the person logged in with in the same transaction; AccountLinkError
        if it is another person's (or, in the meantime, another account's)."""
        try:
            await self.accounts.link(account, keys, proof="login by both routes")
        except (AccountExistsError, PersonMismatchError) as exc:
            raise AccountLinkError(f"route {keys.idp_id} not linked: {exc}") from exc


def _valid(normalise: Callable[[str], str], value: object) -> str:
    """The normalised value, or empty where the IdP sent none or one that is not valid."""
    try:
        return normalise(value) if isinstance(value, str) else ""
    except FormInputError:
        return ""


def account_claims(account: AccountRecord, catalogue: Catalogue) -> dict[str, Any]:
    """The account's part of the claims: contact details the person gave (the e-mail address
    proved by a code) and the partner organisations in the order chosen."""
    partners = []
    for org_id in account.partners:
        org = catalogue.get(org_id)
        partners.append(
            {
                "id": org_id,
                "kind": org.kind if org else None,
                "code": org.code if org else None,
                "names": dict(org.names) if org else {},
            }
        )
    return {
        "email": account.email or None,
        "email_verified": account.email_verified_at is not None if account.email else None,
        "phone_number": account.phone or None,
        "phone_number_verified": False if account.phone else None,
        "updated_at": int(account.updated_at),
        "partner_organisations": partners,
    }
