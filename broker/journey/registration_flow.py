"""The account stage of the login journey as its pages use it: the registration form (kept as
typed), the e-mail code, and "I already have an account" (see `registration.py` for the
picture). The login ends as every login does (`completion.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from broker import paths
from broker.accounts.catalogue import Catalogue
from broker.errors import FormInputError
from broker.journey.completion import LoginCompletion, Redirect
from broker.journey.login_state import state_of
from broker.journey.registration import AccountStage, Draft, PendingLogin
from broker.journey.steps import STEP_PATHS, JourneyMap
from broker.journey.transactions import LoginTransactions
from broker.store.accounts import PartnerOrganisationRecord
from broker.store.records import TransactionRecord


class RegistrationFlow:
    def __init__(
        self,
        transactions: LoginTransactions,
        accounts: AccountStage,
        completion: LoginCompletion,
        map_for: Callable[[TransactionRecord], JourneyMap],
    ) -> None:
        self._transactions = transactions
        self.accounts = accounts
        self._completion = completion
        self._map_for = map_for

    def pending(self, tx: TransactionRecord) -> PendingLogin:
        return state_of(tx).pending_login()

    @property
    def catalogue(self) -> Catalogue:
        """The partner organisations a person may choose at registration."""
        return self.accounts.catalogue

    def suggested_partner(self, tx: TransactionRecord) -> PartnerOrganisationRecord | None:
        """The home municipality the IdP sent, offered for private practitioners."""
        org_id = self.accounts.suggested_municipality(self.pending(tx))
        return self.accounts.catalogue.get(org_id) if org_id else None

    def draft(self, tx: TransactionRecord) -> Draft:
        state = state_of(tx)
        return state.draft or self.accounts.first_draft(state.pending_login())

    async def save_draft(self, tx: TransactionRecord, draft: Draft) -> TransactionRecord:
        state = state_of(tx)
        state.pending_login()
        return await self._transactions.save(tx, state.drafted(draft))

    async def submit_registration(
        self, tx: TransactionRecord, draft: Draft, language: str
    ) -> Redirect | Mapping[str, str]:
        """On to the code page once every field is right (a code sent to the e-mail address),
        else the message id of each field to correct."""
        tx = await self.save_draft(tx, draft)
        checked = self.accounts.check(draft, registering=True)
        if checked.registration is None:
            return checked.errors
        try:
            await self.accounts.codes.send(tx.tx_id, checked.registration.email, language)
        except FormInputError as exc:
            return {exc.field: exc.message_id}
        await self._transactions.save(
            tx, state_of(tx).code_sent(checked.registration.email, language)
        )
        return Redirect(paths.CONFIRM)

    async def resend_code(self, tx: TransactionRecord, language: str) -> Mapping[str, str]:
        email = state_of(tx).code_address()
        try:
            await self.accounts.codes.send(tx.tx_id, email, language)
        except FormInputError as exc:
            return {exc.field: exc.message_id}
        return {}

    async def confirm_registration(
        self, tx: TransactionRecord, typed_code: str
    ) -> Redirect | Mapping[str, str]:
        """The account, once the code is right, and on to the portal; else what is wrong."""
        state = state_of(tx)
        pending = state.pending_login()
        checked = self.accounts.check(self.draft(tx), registering=True)
        email = state.code_address()
        if checked.registration is None or checked.registration.email != email:
            return {"form": "registration.form.changed"}
        try:
            await self.accounts.codes.confirm(tx.tx_id, email, typed_code)
        except FormInputError as exc:
            return {exc.field: exc.message_id}
        language = state.language or "fi"
        account = await self.accounts.register(
            pending, checked.registration, list(state.others), language
        )
        redirect = await self._completion.finish_account(tx, account, pending)
        return Redirect(redirect.url, session=redirect.session)

    async def link_by_other_route(self, tx: TransactionRecord) -> Redirect:
        """ "I already have an account": this login waits while the person logs in by the route
        their account has; that login's account then gets this route linked."""
        linking = state_of(tx).linking_another_route()
        tx = await self._transactions.save(tx, linking)
        return Redirect(STEP_PATHS[self._map_for(tx).first_open_step(linking.choices)])
