"""The person's own account page: reached with the browser's SSO session (a portal's "edit
account" link, say), it shows the account and the routes linked to it, edits the contact
details (a new e-mail address is the account's only once the code sent to it is typed back),
and deletes the account. The HTTP layer (`http/account_routes.py`) parses, calls and renders.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from broker.errors import AccountRequiredError, FormInputError
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.registration import AccountStage, Draft, account_claims
from broker.settings import AccountSettings
from broker.store.accounts import AccountRecord
from broker.store.records import SessionRecord
from broker.upstream.registry import Registry

__all__ = ["AccountPage", "Edited", "LinkedRoute", "SignedIn"]


@dataclass(frozen=True)
class SignedIn:
    session: SessionRecord
    account: AccountRecord

    @property
    def route(self) -> str | None:
        """The route of the login behind the session (the audit trail records it)."""
        route = self.session.claims.get("route")
        return route if isinstance(route, str) else None

    @property
    def saved(self) -> Draft:
        """The account's contact details as a form's draft."""
        account = self.account
        return Draft(account.phone, account.email, account.partners)


@dataclass(frozen=True)
class Edited:
    """What a save did: the fields to correct, or saved (and a code sent to a new address)."""

    errors: Mapping[str, str] = dataclasses.field(default_factory=dict)
    code_sent_to: str | None = None


@dataclass(frozen=True)
class LinkedRoute:
    name: str
    linked_at: str
    last_login_at: str


class AccountPage:
    def __init__(
        self,
        provider: OIDCProvider,
        stage: AccountStage,
        registry: Callable[[], Registry],
        settings: AccountSettings,
    ) -> None:
        self._provider = provider
        self._stage = stage
        self._registry = registry
        self._settings = settings

    @property
    def stage(self) -> AccountStage:
        return self._stage

    @property
    def retention_days(self) -> int:
        return self._settings.audit_retention_days

    async def signed_in(self, sid: str | None) -> SignedIn:
        """Raises AccountRequiredError without the SSO session of an account."""
        session = await self._provider.sessions.active(sid)
        account = await self._stage.accounts.get(session.sub) if session else None
        if session is None or account is None:
            raise AccountRequiredError("account page without an SSO session of an account")
        return SignedIn(session, account)

    def login_too_old(self, who: SignedIn) -> bool:
        """Deleting asks for a recent login: a session left open on a shared computer, or a
        stolen session cookie, must not be enough to delete the account."""
        age = self._provider.clock.now() - who.session.auth_time
        return age > self._settings.delete_login_max_age

    async def links(self, who: SignedIn, locale: str) -> list[LinkedRoute]:
        registry = self._registry()
        found = []
        for link in await self._stage.accounts.links(who.account.account_id):
            idp = registry.idp(link.idp_id)
            found.append(
                LinkedRoute(
                    idp.names.get(locale) if idp else link.idp_id,
                    _date(link.linked_at),
                    _date(link.last_login_at) if link.last_login_at else "-",
                )
            )
        return found

    async def save(self, who: SignedIn, draft: Draft, language: str) -> Edited:
        """The edited details, all checked at once; a changed e-mail address waits for its
        code (the code goes out first: a refused address saves nothing)."""
        stage, account = self._stage, who.account
        checked = stage.check(draft)
        if checked.registration is None:
            return Edited(checked.errors)
        new_email = checked.registration.email
        keep = dataclasses.replace(checked.registration, email=account.email)
        try:
            if new_email != account.email:
                await stage.codes.send(_code_key(who), new_email, language)
            edited = await stage.accounts.edit(account, keep, stage.catalogue, who.route)
        except FormInputError as exc:
            return Edited({exc.field: exc.message_id})
        await self._refresh_session(who.session, edited)
        return Edited(code_sent_to=new_email if new_email != account.email else None)

    async def resend_email_code(self, who: SignedIn, email: str, language: str) -> None:
        """Raises FormInputError (too many codes to the address, or it cannot be sent)."""
        await self._stage.codes.send(_code_key(who), email, language)

    async def confirm_email(self, who: SignedIn, email: str, code: str) -> None:
        """The code for a new address: right, and the address is the account's, verified;
        wrong (FormInputError), and the account keeps the address it had."""
        await self._stage.codes.confirm(_code_key(who), email, code)
        changed = await self._stage.accounts.change_email(who.account, email, who.route)
        await self._refresh_session(who.session, changed)

    async def delete(self, who: SignedIn) -> None:
        """Every SSO session of the account ends, in every browser, with its grants (portals
        that asked for it get a back-channel logout), and the account goes."""
        await self._provider.end_subject(who.account.account_id)
        await self._stage.accounts.delete(who.account, who.route)

    async def _refresh_session(self, session: SessionRecord, account: AccountRecord) -> None:
        """The SSO session answers the next portal with the edited details."""
        claims = {**session.claims, **account_claims(account, self._stage.catalogue)}
        await self._provider.sessions.update_claims(session, claims)


def _code_key(who: SignedIn) -> str:
    """The e-mail code of an address change is bound to the SSO session that asked for it
    (registration's are bound to the login transaction)."""
    return "account:" + who.session.sid


def _date(at: float) -> str:
    return time.strftime("%d.%m.%Y", time.gmtime(at))
