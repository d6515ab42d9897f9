"""The login journey, top to bottom.

    /authorize ─ validate ─┬─ usable SSO session ─────────────────────────▶ code to the portal
                           ├─ prompt=none, no session ────────────────────▶ login_required
                           │  (unless idp_hint names a SAML IdP: IsPassive; NoPassive ─▶ the same)
                           ├─ idp_hint names an IdP ─────────────▶ upstream login
                           └─ role ▶ route ▶ group ▶ organisation ▶ upstream login
    upstream callback ─ checks ─ normalised identity ─┬─ account ─ SSO session ─▶ code to the portal
                                                      ├─ none, `registration: automatic`: made now
                                                      └─ no account yet: registration, then the same

The login's state is `login_state.py`; the choice steps are in `steps.py`; the protocols behind
`upstreams.py`; the account stage (registration, linking a second route) in `registration.py`
and its pages' steps in `registration_flow.py`; the end of every login in `completion.py`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from broker import paths
from broker.accounts.service import identity_keys
from broker.claims.mapping import normalise
from broker.claims.sealed import Sealer
from broker.errors import (
    AccountLinkError,
    AuthorizationRedirectError,
    BrokerError,
    LoginElsewhereError,
    LoginUnavailableError,
    PortalRequirementError,
    TemporarilyUnavailableError,
    TransactionError,
    UnknownChoiceError,
    UnmetAuthenticationRequirementsError,
    UpstreamLoginRequiredError,
    UpstreamOfflineError,
    UpstreamRequirementError,
    UpstreamResponseError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.frontend.oidc.provider import OIDCProvider, login_required
from broker.journey.audit_trail import AuditTrail
from broker.journey.completion import LoginCompletion, Redirect
from broker.journey.login_state import HeldAnswer, LoginState, PortalView, state_of
from broker.journey.registration import AccountStage, PendingLogin
from broker.journey.registration_flow import RegistrationFlow
from broker.journey.steps import STEP_PATHS, Choices, JourneyMap, Step
from broker.journey.transactions import LoginTransactions
from broker.journey.upstreams import Connector
from broker.notices.board import NoticeBoard, Notices
from broker.store.records import TransactionRecord
from broker.ui.i18n import negotiate_locale
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.registry import IdP

log = logging.getLogger(__name__)

HELD_SECONDS: Final = 300
"""How long a checked SAML answer waits for its browser to come to the continue step."""


class LoginJourney:
    def __init__(
        self,
        provider: OIDCProvider,
        transactions: LoginTransactions,
        journey_map: JourneyMap,
        connectors: Mapping[str, Connector],
        accounts: AccountStage,
        audit: AuditTrail,
        *,
        subject_key: bytes,
        notices: NoticeBoard | None = None,
    ) -> None:
        self._provider = provider
        self._transactions = transactions
        self.map = journey_map
        self._connectors = connectors
        self.accounts = accounts
        self._audit = audit
        self._subject_key = subject_key
        self._sealer = Sealer(subject_key)
        self._issuer = provider.settings.issuer
        self.notices = notices
        self._completion = LoginCompletion(provider, transactions, accounts, audit)
        self.registration = RegistrationFlow(transactions, accounts, self._completion, self.map_for)

    # -- from the portal ------------------------------------------------------------------
    async def begin(
        self, params: Mapping[str, str], duplicates: frozenset[str], sid: str | None
    ) -> Redirect:
        request = await self._provider.validate_authorization(params, duplicates)
        portal = await self._portal(request.client_id)
        journey_map = self.map.for_portal(portal.routes, portal.idps)
        hinted = self.map.registry.idp(request.idp_hint or "")
        if hinted is not None and not journey_map.offers_idp(hinted):
            hinted = None  # a hint at an IdP the portal does not offer: as an unknown hint
        passive = hinted is not None and hinted.protocol == "saml"  # prompt=none: IsPassive
        session = await self._provider.reusable_session(
            request, sid, passive_upstream=passive, offered=journey_map.offers_session
        )
        if session is not None:
            await self._audit.login_by_session(request.client_id, session)
            return Redirect(await self._provider.complete(request, session))
        if not journey_map.options(Step.ROLE, Choices(), "fi"):
            raise LoginUnavailableError("no role has any enabled IdP the portal offers")
        if hinted is not None and await self._offline(hinted):
            unavailable = TemporarilyUnavailableError(f"{hinted.id} is offline for now")
            raise AuthorizationRedirectError(unavailable, request.redirect_uri, request.state)
        tx = await self._transactions.create(request, LoginState.for_portal(portal))
        if hinted is not None:
            return await self._start_upstream(tx, hinted)
        return Redirect(STEP_PATHS[Step.ROLE], tx_id=tx.tx_id)

    async def begin_for_account(
        self, ui_locales: str | None, *, then: str = paths.ACCOUNT, fresh: bool = False
    ) -> Redirect:
        """A login for the account pages themselves (no portal): the same journey, and at its
        end an SSO session and the page `then` instead of a code. `fresh`: the IdP must
        authenticate the person again (prompt=login, SAML ForceAuthn), as before deleting."""
        request = AuthorizationRequest(
            client_id="",
            redirect_uri="",
            scope=("openid",),
            state=None,
            nonce=None,
            code_challenge=None,
            code_challenge_method=None,
            prompt=("login",) if fresh else (),
            ui_locales=ui_locales,
        )
        tx = await self._transactions.create(request, LoginState.for_account_pages(then))
        return Redirect(STEP_PATHS[Step.ROLE], tx_id=tx.tx_id)

    async def current(self, tx_id: str | None) -> TransactionRecord:
        return await self._transactions.load(tx_id)

    async def _portal(self, client_id: str) -> PortalView:
        """What the choice pages need of the portal's policy, kept in the login's state for
        the length of the login."""
        client = await self._provider.store.clients.get(client_id)
        if client is None:
            return PortalView()
        return PortalView(client.client_name, client.policy_uri, client.routes, client.idps)

    def map_for(self, tx: TransactionRecord) -> JourneyMap:
        """The journey as this login's portal offers it (a login for the account pages: all)."""
        portal = state_of(tx).portal
        return self.map.for_portal(portal.routes, portal.idps)

    # -- the choice pages -----------------------------------------------------------------
    def step_to_show(self, tx: TransactionRecord, wanted: Step) -> Step:
        """The page asked for, unless an earlier answer is missing: then that earlier step."""
        open_step = self.map_for(tx).first_open_step(state_of(tx).choices)
        order = list(Step)
        return wanted if order.index(wanted) <= order.index(open_step) else open_step

    async def choose(self, tx: TransactionRecord, step: Step, choice: str) -> Redirect:
        state = state_of(tx)
        choices = state.choices
        journey_map = self.map_for(tx)
        if (shown := self.step_to_show(tx, step)) is not step:
            return Redirect(STEP_PATHS[shown])
        if step is Step.ORGANISATION:
            idp = self.map.registry.idp(choice)
            if idp is None or not journey_map.allows_idp(choices, choice):
                raise UnknownChoiceError(f"organisation {choice!r} not on offer")
            return await self._start_upstream(tx, idp)
        if choice not in {o.id for o in journey_map.options(step, choices, "fi")}:
            raise UnknownChoiceError(f"{step.value} {choice!r} not on offer")
        if step is Step.ROUTE and (await self.current_notices()).offline("route", choice):
            raise UpstreamOfflineError(f"route {choice!r} is offline", route=choice)
        answered = state.answered(step, choice)
        updated = await self._transactions.save(tx, answered)
        route = self.map.registry.route(choice) if step is Step.ROUTE else None
        if route is not None and not route.groups:
            only = journey_map.idps_for(route.id, None)
            if len(only) == 1:  # a route with one IdP of its own (Suomi.fi) needs no more pages
                return await self._start_upstream(updated, only[0])
        return Redirect(STEP_PATHS[journey_map.first_open_step(answered.choices)])

    async def remember_choice(self, tx: TransactionRecord) -> TransactionRecord:
        """Opt-in: after a successful login the organisation is remembered on this device."""
        return await self._transactions.save(tx, state_of(tx).remembering())

    async def choose_by_email(self, tx: TransactionRecord, email: str) -> Redirect | None:
        """The e-mail shortcut: None when no organisation has that domain (the page says so,
        and nothing about whether anyone with that address exists)."""
        idp = self.map.registry.idp_for_email(email)
        if idp is None or not self.map_for(tx).offers_idp(idp):
            return None
        return await self._start_upstream(tx, idp)

    async def choose_remembered(self, tx: TransactionRecord, idp_id: str | None) -> Redirect:
        idp = self.map.registry.idp(idp_id or "")
        if idp is None or not self.map_for(tx).offers_idp(idp):
            return Redirect(STEP_PATHS[Step.ROLE])
        return await self._start_upstream(tx, idp)

    # -- the upstream IdP -----------------------------------------------------------------
    async def _start_upstream(self, tx: TransactionRecord, idp: IdP) -> Redirect:
        """A fresh random RelayState per SAML login, never the transaction id: it travels
        through the IdP and whoever holds the AuthnRequest URL, so it must name nothing that
        lets anyone continue the login (see `hold_saml_response`)."""
        if not self.map_for(tx).offers_idp(idp):
            raise UnknownChoiceError(f"{idp.id} is not offered by the portal")
        if await self._offline(idp):
            raise UpstreamOfflineError(f"{idp.id} is offline", idp=idp.id)
        request = AuthorizationRequest.from_json(tx.request)
        relay_state = secrets.new_id() if idp.protocol == "saml" else None
        login = UpstreamLogin(
            redirect_uri=self._return_url(idp),
            prompt=request.prompt,
            max_age=request.max_age,
            login_hint=request.login_hint,
            acr_values=request.acr_values,
            ui_locales=request.ui_locales,
            relay_state=relay_state,
        )
        started = await self._connectors[idp.id].start(login)
        await self._transactions.expect_answer(
            tx, relay_state, state_of(tx).went_upstream(idp.id, started.saved)
        )
        log.info("upstream login started", extra={"idp": idp.id})
        return Redirect(started.url, tx_id=tx.tx_id)

    async def current_notices(self) -> Notices:
        return Notices() if self.notices is None else await self.notices.current()

    async def _offline(self, idp: IdP) -> bool:
        """Whether a notice takes the organisation, or a route to it, offline."""
        notices = await self.current_notices()
        return notices.offline_idp(idp.id, self.map.routes_to(idp)) is not None

    def _return_url(self, idp: IdP) -> str:
        if idp.protocol == "oidc":
            return f"{self._issuer}{paths.OIDC_CALLBACK}/{idp.id}"
        return self._issuer + paths.SAML_ACS

    async def oidc_callback(
        self, tx: TransactionRecord, idp_id: str, params: Mapping[str, str]
    ) -> Redirect:
        """Mix-up defence (RFC 9700 §4.4): an answer at one IdP's redirect URI continues only a
        login that went to that IdP, so a code another IdP issued is never sent to this one."""
        if state_of(tx).idp != idp_id:
            raise UpstreamResponseError(f"{idp_id}: callback for a login sent to another IdP")
        return await self.upstream_callback(tx, params)

    async def upstream_callback(self, tx: TransactionRecord, params: Mapping[str, str]) -> Redirect:
        """The OIDC redirect: a top-level GET, so the transaction comes from this browser's
        cookie and the IdP's `state` must be the one saved in it (`OIDCConnector.finish`)."""
        idp, saved = self._upstream_of(tx)
        try:
            pending = await self._verified_login(idp, params, saved)
        except UpstreamLoginRequiredError as exc:
            raise await self._login_required(tx, exc) from exc
        except UpstreamRequirementError as exc:
            raise await self._unmet(tx, exc) from exc
        return await self._with_account(tx, idp.id, pending)

    async def hold_saml_response(self, params: Mapping[str, str]) -> Redirect:
        """The ACS gets a cross-site POST, which carries no SameSite=Lax cookie, from whichever
        browser the IdP answered: not necessarily the one that began the login (someone may have
        been sent the AuthnRequest URL). So the answer is checked here and only held, sealed,
        in the login its RelayState names, under a fresh single-use handle that goes to the
        posting browser alone; `saml_continue` takes it only with the handle *and* the cookie
        of the same login. Neither the RelayState nor the response is usable again."""
        tx = await self._transactions.by_relay_state(params.get("RelayState", ""))
        idp, saved = self._upstream_of(tx)
        if idp.protocol != "saml":
            raise TransactionError("SAML answer for a login that went to an OIDC IdP")
        handle = secrets.new_secret()
        held = HeldAnswer(secrets.hash_secret(handle), self._provider.clock.now())
        try:
            pending = await self._verified_login(idp, params, saved)
            held = dataclasses.replace(held, pending=pending)
        except UpstreamLoginRequiredError:
            request = AuthorizationRequest.from_json(tx.request)
            if "none" not in request.prompt:
                raise
            held = dataclasses.replace(held, login_required=True)
        except UpstreamRequirementError as exc:
            raise await self._unmet(tx, exc) from exc
        await self._transactions.expect_answer(tx, None, state_of(tx).answer_held(held))
        return Redirect(f"{paths.SAML_CONTINUE}?{urlencode({'h': handle})}")

    async def saml_continue(self, tx: TransactionRecord, handle: str) -> Redirect:
        """The held answer, in the browser that brought it (the handle) and began the login
        (the cookie that found `tx`). A browser with only one of the two gets nothing, and the
        answer waits no longer than `HELD_SECONDS`."""
        state = state_of(tx)
        held = state.held
        if held is None:
            raise LoginElsewhereError("no SAML answer is held for this browser's login")
        tx = await self._transactions.save(tx, state.held_taken())
        if not secrets.matches(handle, held.handle_hash):
            raise LoginElsewhereError("SAML answer continued without its handle")
        if held.at + HELD_SECONDS < self._provider.clock.now():
            raise TransactionError("held SAML answer expired")
        if held.login_required or held.pending is None:
            raise await self._login_required(tx, None)
        return await self._with_account(tx, str(state.idp), held.pending)

    def _upstream_of(self, tx: TransactionRecord) -> tuple[IdP, dict[str, Any]]:
        state = state_of(tx)
        idp = self.map.registry.idp(state.idp or "")
        saved = state.upstream
        if idp is None or saved is None:
            raise TransactionError("callback for a transaction that started no upstream login")
        return idp, saved

    async def _verified_login(
        self, idp: IdP, params: Mapping[str, str], saved: Mapping[str, Any]
    ) -> PendingLogin:
        """The connector's checks, then what the login needs from the answer, normalised,
        with the identity code sealed: the answer itself is never stored."""
        raw = await self._connectors[idp.id].finish(params, saved)
        identity = normalise(idp, raw)
        log.info("upstream login completed", extra={"idp": idp.id})
        keys = identity_keys(identity, self._subject_key, link_acr=idp.identity_code_acr)
        return PendingLogin.of(identity, raw, keys, self._sealer)

    async def _login_required(
        self, tx: TransactionRecord, exc: UpstreamLoginRequiredError | None
    ) -> BrokerError:
        """An IdP that cannot log the person in without a page, after the portal's prompt=none,
        means login_required for the portal (OIDC Core §3.1.2.6); else the page says so."""
        request = AuthorizationRequest.from_json(tx.request)
        if "none" not in request.prompt:
            return exc or UpstreamLoginRequiredError("the IdP needs the person's interaction")
        await self._transactions.finish(tx)
        return login_required(request, "no session at the IdP")

    async def _unmet(self, tx: TransactionRecord, exc: UpstreamRequirementError) -> BrokerError:
        """A portal's login that did not reach what the portal asked: the page offers the way
        back to the portal (`return_unmet`); the login stays open for another route."""
        state = state_of(tx)
        if state.purpose == "account":
            return exc
        await self._transactions.save(tx, state.refused_as_unmet())
        return PortalRequirementError(str(exc), portal=state.portal.name)

    async def return_unmet(self, tx: TransactionRecord) -> AuthorizationRedirectError:
        """Back to the portal after a refused answer: unmet_authentication_requirements (OpenID
        Connect Core Error Code unmet_authentication_requirements 1.0), no code. Only for a
        login whose answer was refused so: for anything else there is nothing to return."""
        if not state_of(tx).unmet:
            raise TransactionError("no refused login to return to the portal")
        request = await self._transactions.finish(tx)
        unmet = UnmetAuthenticationRequirementsError("the login did not meet the requirements")
        return AuthorizationRedirectError(unmet, request.redirect_uri, request.state)

    async def _with_account(
        self, tx: TransactionRecord, idp_id: str, pending: PendingLogin
    ) -> Redirect:
        account = await self.accounts.accounts.find(pending.keys)
        if account is None:
            return await self._no_account_yet(tx, pending, idp_id)
        state = state_of(tx)
        if state.linking is not None:  # the person logged in by another route to link it here
            await self.accounts.link_second_route(account, state.linking.keys)
        if state.register:  # the register entry, for someone who has an account
            tx = await self._transactions.save(tx, state.to_account_page(paths.ACCOUNT))
        redirect = await self._completion.finish_account(tx, account, pending)
        return Redirect(redirect.url, session=redirect.session, remember_idp=idp_id)

    async def _no_account_yet(
        self, tx: TransactionRecord, pending: PendingLogin, idp_id: str
    ) -> Redirect:
        """To registration, pre-filled; after a linking login that found no account either,
        both routes go into the account registered now (the person logged in with both),
        unless their identity codes say they are of different people."""
        state = state_of(tx)
        registering = state.registering(pending, self.accounts.first_draft(pending))
        people = {k.person_hash for k in registering.others} | {pending.keys.person_hash}
        if len(people - {None}) > 1:
            raise AccountLinkError(f"route {idp_id} not linked: the logins are of different people")
        if not registering.others and not state.register:
            automatic = await self._automatic_account(tx, pending, idp_id)
            if automatic is not None:
                return automatic
        await self._transactions.save(tx, registering)
        log.info("no account yet: registration", extra={"idp": idp_id})
        return Redirect(paths.REGISTER, tx_id=tx.tx_id, remember_idp=idp_id)

    async def _automatic_account(
        self, tx: TransactionRecord, pending: PendingLogin, idp_id: str
    ) -> Redirect | None:
        """`registration: automatic` (organisation identification): the account from what the
        IdP said, and on to the portal; None where the form is needed after all (the route
        requires it, or the organisation is not in the catalogue)."""
        idp = self.map.registry.idp(idp_id)
        if idp is None or self.map.registry.registration(idp) != "automatic":
            return None
        request = AuthorizationRequest.from_json(tx.request)
        language = negotiate_locale(request.ui_locales, None, None)
        account = await self.accounts.register_automatically(
            pending, email_verified=idp.verifies_email, language=language
        )
        if account is None:
            return None
        log.info("no account yet: made automatically", extra={"idp": idp_id})
        redirect = await self._completion.finish_account(tx, account, pending)
        return Redirect(redirect.url, session=redirect.session, remember_idp=idp_id)

    async def register_explicitly(self, tx: TransactionRecord) -> Redirect:
        """ "Register a professional account": personal identification, then the registration
        form (whatever the route would do otherwise), or the account page for someone who has
        an account already."""
        routes = [r for r in self.map.registry.journey.routes if r.kind == "personal"]
        role = next(
            (r for r in self.map.registry.journey.roles if routes and routes[0].id in r.routes),
            None,
        )
        if role is None:
            raise UnknownChoiceError("no personal identification route to register through")
        tx = await self._transactions.save(tx, state_of(tx).registering_explicitly(role.id))
        return await self.choose(tx, Step.ROUTE, routes[0].id)
