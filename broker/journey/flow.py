"""The login journey, top to bottom.

    /authorize ─ validate ─┬─ usable SSO session ─────────────────────────▶ code to the portal
                           ├─ prompt=none, no session ────────────────────▶ login_required
                           │  (unless idp_hint names a SAML IdP: IsPassive; NoPassive ─▶ the same)
                           ├─ idp_hint names an IdP ─────────────▶ upstream login
                           └─ role ▶ route ▶ group ▶ organisation ▶ upstream login
    upstream callback ─ checks ─ normalised identity ─ SSO session ───────▶ code to the portal

The choice steps are in `steps.py`; the protocols behind `upstreams.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broker.claims.identity import Identity, RawIdentity
from broker.claims.mapping import normalise
from broker.claims.subjects import keyed_subject
from broker.errors import (
    LoginUnavailableError,
    TransactionError,
    UnknownChoiceError,
    UpstreamLoginRequiredError,
)
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.frontend.oidc.provider import OIDCProvider, login_required
from broker.journey.steps import STEP_PATHS, Choices, JourneyMap, Step
from broker.journey.transactions import LoginTransactions
from broker.journey.upstreams import Connector
from broker.store.records import SessionRecord, TransactionRecord, UpstreamSession
from broker.upstream.registry import IdP

log = logging.getLogger(__name__)

CALLBACK_PATH = "/upstream/oidc/callback"
ACS_PATH = "/upstream/saml/acs"
SAML_CONTINUE_PATH = "/upstream/saml/continue"
SLO_PATH = "/upstream/saml/slo"


@dataclass(frozen=True)
class Redirect:
    """Where the browser goes next, and which cookies the HTTP layer must set on the way."""

    url: str
    tx_id: str | None = None
    session: SessionRecord | None = None
    remember_idp: str | None = None


class LoginJourney:
    def __init__(
        self,
        provider: OIDCProvider,
        transactions: LoginTransactions,
        journey_map: JourneyMap,
        connectors: Mapping[str, Connector],
        *,
        subject_key: bytes,
    ) -> None:
        self._provider = provider
        self._transactions = transactions
        self.map = journey_map
        self._connectors = connectors
        self._subject_key = subject_key
        self._return_urls = {
            "oidc": provider.settings.issuer + CALLBACK_PATH,
            "saml": provider.settings.issuer + ACS_PATH,
        }

    # -- from the portal ------------------------------------------------------------------
    async def begin(
        self, params: Mapping[str, str], duplicates: frozenset[str], sid: str | None
    ) -> Redirect:
        request = await self._provider.validate_authorization(params, duplicates)
        hinted = self.map.registry.idp(request.idp_hint or "")
        passive = hinted is not None and hinted.protocol == "saml"  # prompt=none: IsPassive
        session = await self._provider.reusable_session(request, sid, passive_upstream=passive)
        if session is not None:
            return Redirect(await self._provider.complete(request, session))
        if not self.map.options(Step.ROLE, Choices(), "fi"):
            raise LoginUnavailableError("no role has any enabled IdP")
        tx = await self._transactions.create(request)
        if hinted is not None:
            return await self._start_upstream(tx, hinted)
        return Redirect(STEP_PATHS[Step.ROLE], tx_id=tx.tx_id)

    async def current(self, tx_id: str | None) -> TransactionRecord:
        return await self._transactions.load(tx_id)

    # -- the choice pages -----------------------------------------------------------------
    def step_to_show(self, tx: TransactionRecord, wanted: Step) -> Step:
        """The page asked for, unless an earlier answer is missing: then that earlier step."""
        open_step = self.map.first_open_step(Choices.from_data(tx.data))
        order = list(Step)
        return wanted if order.index(wanted) <= order.index(open_step) else open_step

    async def choose(self, tx: TransactionRecord, step: Step, choice: str) -> Redirect:
        choices = Choices.from_data(tx.data)
        if (shown := self.step_to_show(tx, step)) is not step:
            return Redirect(STEP_PATHS[shown])
        if step is Step.ORGANISATION:
            idp = self.map.registry.idp(choice)
            if idp is None or not self.map.allows_idp(choices, choice):
                raise UnknownChoiceError(f"organisation {choice!r} not on offer")
            return await self._start_upstream(tx, idp)
        if choice not in {o.id for o in self.map.options(step, choices, "fi")}:
            raise UnknownChoiceError(f"{step.value} {choice!r} not on offer")
        updated = await self._transactions.update(tx, **_answer(step, choice))
        route = self.map.registry.route(choice) if step is Step.ROUTE else None
        if route is not None and not route.groups:
            only = self.map.idps_for(route.id, None)
            if len(only) == 1:  # a route with one IdP of its own (Suomi.fi) needs no more pages
                return await self._start_upstream(updated, only[0])
        return Redirect(STEP_PATHS[self.map.first_open_step(Choices.from_data(updated.data))])

    async def remember_choice(self, tx: TransactionRecord) -> TransactionRecord:
        """Opt-in: after a successful login the organisation is remembered on this device."""
        return await self._transactions.update(tx, remember=True)

    async def choose_by_email(self, tx: TransactionRecord, email: str) -> Redirect | None:
        """The e-mail shortcut: None when no organisation has that domain (the page says so,
        and nothing about whether anyone with that address exists)."""
        idp = self.map.registry.idp_for_email(email)
        if idp is None:
            return None
        return await self._start_upstream(tx, idp)

    async def choose_remembered(self, tx: TransactionRecord, idp_id: str | None) -> Redirect:
        idp = self.map.registry.idp(idp_id or "")
        if idp is None:
            return Redirect(STEP_PATHS[Step.ROLE])
        return await self._start_upstream(tx, idp)

    # -- the upstream IdP -----------------------------------------------------------------
    async def _start_upstream(self, tx: TransactionRecord, idp: IdP) -> Redirect:
        request = AuthorizationRequest.from_json(tx.request)
        started = await self._connectors[idp.id].start(
            redirect_uri=self._return_urls[idp.protocol],
            prompt=request.prompt,
            max_age=request.max_age,
            login_hint=request.login_hint,
            acr_values=request.acr_values,
            ui_locales=request.ui_locales,
            relay_state=tx.tx_id,
        )
        await self._transactions.update(tx, idp=idp.id, upstream=started.saved)
        log.info("upstream login started", extra={"idp": idp.id})
        return Redirect(started.url, tx_id=tx.tx_id)

    async def hold_saml_response(self, relay_state: str, params: Mapping[str, str]) -> Redirect:
        """The ACS gets a cross-site POST, which carries no SameSite=Lax cookie. Keep the response
        in the transaction its RelayState names and send the browser on with a same-site
        redirect, where the transaction cookie is sent: the response is used only if that cookie
        names the same transaction, so it cannot be replayed into another browser's login."""
        tx = await self._transactions.load(relay_state)
        if tx.data.get("upstream") is None:
            raise TransactionError("SAML response for a transaction that started no login")
        response = {k: v for k, v in params.items() if k in ("SAMLResponse", "RelayState")}
        await self._transactions.update(tx, saml_response=response)
        return Redirect(SAML_CONTINUE_PATH)

    async def saml_continue(self, tx: TransactionRecord) -> Redirect:
        held = tx.data.get("saml_response")
        if not isinstance(held, dict):
            raise TransactionError("no SAML response waits for this browser's login")
        tx = await self._transactions.update(tx, saml_response=None)
        return await self.upstream_callback(tx, held)

    async def upstream_callback(self, tx: TransactionRecord, params: Mapping[str, str]) -> Redirect:
        idp = self.map.registry.idp(tx.data.get("idp") or "")
        saved = tx.data.get("upstream")
        if idp is None or not isinstance(saved, dict):
            raise TransactionError("callback for a transaction that started no upstream login")
        raw = await self._finish_upstream(tx, idp, params, saved)
        identity = normalise(idp, raw)
        log.info("upstream login completed", extra={"idp": idp.id})
        redirect = await self.finish(
            tx,
            subject_for(identity, self._subject_key),
            identity.profile_claims(),
            acr=identity.acr,
            amr=identity.amr,
            upstream=raw.session,
        )
        return Redirect(redirect.url, session=redirect.session, remember_idp=idp.id)

    async def _finish_upstream(
        self, tx: TransactionRecord, idp: IdP, params: Mapping[str, str], saved: Mapping[str, Any]
    ) -> RawIdentity:
        """The connector's checks; an IdP that cannot log the person in without a page, after
        the portal's prompt=none, means login_required for the portal (OIDC Core §3.1.2.6)."""
        try:
            return await self._connectors[idp.id].finish(params, saved)
        except UpstreamLoginRequiredError as exc:
            request = AuthorizationRequest.from_json(tx.request)
            if "none" not in request.prompt:
                raise
            await self._transactions.finish(tx)
            raise login_required(request, "no session at the IdP") from exc

    async def finish(
        self,
        tx: TransactionRecord,
        sub: str,
        claims: Mapping[str, Any],
        *,
        acr: str | None,
        amr: tuple[str, ...],
        upstream: UpstreamSession | None = None,
    ) -> Redirect:
        request = await self._transactions.finish(tx)
        session = await self._provider.sessions.start(
            sub, acr=acr, amr=amr, claims=claims, upstream=upstream
        )
        url = await self._provider.complete(request, session)
        return Redirect(url, session=session)


def _answer(step: Step, choice: str) -> dict[str, Any]:
    """An answer also clears the answers after it, so Back and a new choice stay consistent."""
    if step is Step.ROLE:
        return {"role": choice, "route": None, "group": None}
    if step is Step.ROUTE:
        return {"route": choice, "group": None}
    return {"group": choice}


def subject_for(identity: Identity, key: bytes) -> str:
    """The local subject of an upstream identity (professional accounts replace it with the
    account's). Keyed: an upstream subject can be an identity code, whose small space an unkeyed
    hash would not protect. Portals see it only through `broker.claims.subjects`."""
    return keyed_subject(key, identity.issuer, identity.subject)
