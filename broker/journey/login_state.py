"""One login's state, typed: what the journey keeps in the login transaction between requests.

    choosing ─▶ upstream ─┬─▶ (account found, or made automatically) ────────────────▶ done
       ▲                  └─▶ registering ─▶ confirming ─▶ (account registered) ───▶ done
       │                         │
       └──────── linking ◀───────┘ "I already have an account": choose the account's route

The state is frozen; every change is a method that returns the next state, named for what
happened, so the journey reads as its transitions and a field cannot be half reset. It is
serialised here and nowhere else (`to_json`, `from_json`), with the same keys as before it had a
type, so logins in flight across an upgrade go on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from broker.accounts.service import IdentityKeys
from broker.errors import TransactionError
from broker.journey.registration import Draft, PendingLogin
from broker.journey.steps import Choices, Step
from broker.store.records import TransactionRecord

__all__ = ["HeldAnswer", "LoginState", "Phase", "PortalView", "state_of"]


class Phase(StrEnum):
    CHOOSING = "choosing"
    """On the choice pages (role, route, group, organisation)."""
    UPSTREAM = "upstream"
    """Sent to an IdP; its answer is expected (or, for SAML, held for the continue step)."""
    REGISTERING = "registering"
    """The IdP's answer found no account: the registration form."""
    CONFIRMING = "confirming"
    """A code went to the e-mail address of the form."""
    LINKING = "linking"
    """Back on the choice pages to log in by the route of an existing account, the first
    login waiting to be linked to it."""
    DONE = "done"
    """The portal got its code (or the account page its session); never stored, since the
    transaction is deleted then (`LoginTransactions.finish`)."""


Purpose = Literal["portal", "account"]


@dataclass(frozen=True)
class PortalView:
    """What the choice pages need of the portal's policy, as the login began (a login for the
    account pages has none: everything is offered)."""

    name: str | None = None
    policy_uri: str | None = None
    routes: tuple[str, ...] = ()
    idps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "routes": list(self.routes), "idps": list(self.idps)}

    @classmethod
    def from_json(cls, data: object) -> PortalView:
        if not isinstance(data, dict):
            return cls()
        return cls(
            _text(data.get("name")),
            _text(data.get("policy_uri")),
            tuple(str(r) for r in data.get("routes") or ()),
            tuple(str(i) for i in data.get("idps") or ()),
        )


@dataclass(frozen=True)
class HeldAnswer:
    """A checked SAML answer waiting for the browser that began the login (`saml_continue`):
    the normalised login or, after prompt=none, that the IdP needs the person."""

    handle_hash: str
    at: float
    pending: PendingLogin | None = None
    login_required: bool = False

    def to_json(self) -> dict[str, Any]:
        held: dict[str, Any] = {"handle": self.handle_hash, "at": self.at}
        if self.pending is not None:
            held["pending"] = self.pending.to_data()
        if self.login_required:
            held["login_required"] = True
        return held

    @classmethod
    def from_json(cls, data: object) -> HeldAnswer | None:
        if not isinstance(data, dict):
            return None
        pending = data.get("pending")
        return cls(
            str(data.get("handle")),
            float(data["at"]),
            PendingLogin.from_data(pending) if pending is not None else None,
            data.get("login_required") is True,
        )


@dataclass(frozen=True)
class LoginState:
    phase: Phase = Phase.CHOOSING
    purpose: Purpose = "portal"
    then: str | None = None
    """A login for the account pages: the page to go to at the end."""
    portal: PortalView = field(default_factory=PortalView)
    choices: Choices = field(default_factory=Choices)
    remember: bool = False
    """The person asked to remember the organisation on this device."""
    register: bool = False
    """Begun by "Register a professional account": the form even where an account would be
    made automatically, and the account page for someone who has one."""
    idp: str | None = None
    upstream: dict[str, Any] | None = field(default=None, repr=False)
    """The connector's saved request (state, nonce, PKCE verifier, request id); spent once
    answered, so a reloaded callback is refused rather than sent upstream again."""
    held: HeldAnswer | None = field(default=None, repr=False)
    unmet: bool = False
    """The IdP's answer did not reach what the portal requires: the way back to the portal."""
    pending: PendingLogin | None = field(default=None, repr=False)
    draft: Draft | None = field(default=None, repr=False)
    code_sent_to: str | None = field(default=None, repr=False)
    language: str | None = None
    linking: PendingLogin | None = field(default=None, repr=False)
    others: tuple[IdentityKeys, ...] = field(default=(), repr=False)
    """Routes logged in by during this registration, to link to the account it makes."""
    link_failed: bool = False

    # -- transitions ----------------------------------------------------------------------
    @classmethod
    def for_portal(cls, portal: PortalView) -> LoginState:
        return cls(portal=portal)

    @classmethod
    def for_account_pages(cls, then: str) -> LoginState:
        return cls(purpose="account", then=then)

    def answered(self, step: Step, choice: str) -> LoginState:
        """An answer also clears the answers after it, so Back and a new choice stay
        consistent."""
        role, route, group = self.choices.role, self.choices.route, self.choices.group
        if step is Step.ROLE:
            role, route, group = choice, None, None
        elif step is Step.ROUTE:
            route, group = choice, None
        else:
            group = choice
        phase = Phase.LINKING if self.linking is not None else Phase.CHOOSING
        return self._next(phase=phase, choices=Choices(role, route, group))

    def remembering(self) -> LoginState:
        return self._next(remember=True)

    def registering_explicitly(self, role: str) -> LoginState:
        return dataclasses.replace(self.answered(Step.ROLE, role), register=True)

    def went_upstream(self, idp_id: str, saved: dict[str, Any]) -> LoginState:
        return self._next(phase=Phase.UPSTREAM, idp=idp_id, upstream=saved, held=None, unmet=False)

    def answer_held(self, held: HeldAnswer) -> LoginState:
        """The SAML answer is held; the AuthnRequest it answered is spent."""
        return self._next(upstream=None, held=held)

    def held_taken(self) -> LoginState:
        """One try at the continue step, right or wrong."""
        return self._next(held=None)

    def refused_as_unmet(self) -> LoginState:
        return self._next(unmet=True)

    def to_account_page(self, then: str) -> LoginState:
        """The register entry, for someone who turned out to have an account."""
        return self._next(purpose="account", then=then)

    def registering(self, pending: PendingLogin, draft: Draft) -> LoginState:
        """No account: the form, pre-filled. A linking login that found no account either
        goes into the account registered now, with its route."""
        others = self.others + ((self.linking.keys,) if self.linking is not None else ())
        return self._next(
            phase=Phase.REGISTERING,
            pending=pending,
            upstream=None,
            linking=None,
            others=others,
            draft=draft,
            link_failed=self.linking is not None,
        )

    def drafted(self, draft: Draft) -> LoginState:
        return self._next(draft=draft)

    def code_sent(self, email: str, language: str) -> LoginState:
        return self._next(phase=Phase.CONFIRMING, code_sent_to=email, language=language)

    def linking_another_route(self) -> LoginState:
        """ "I already have an account": this login waits while the person logs in by the
        route their account has."""
        return self._next(
            phase=Phase.LINKING,
            linking=self.pending_login(),
            pending=None,
            draft=None,
            code_sent_to=None,
            idp=None,
            upstream=None,
            choices=Choices(self.choices.role, None, None),
        )

    def _next(self, **changes: Any) -> LoginState:
        return dataclasses.replace(self, **changes)

    # -- reading --------------------------------------------------------------------------
    def pending_login(self) -> PendingLogin:
        if self.pending is None:
            raise TransactionError("no upstream login waits for an account in this transaction")
        return self.pending

    def code_address(self) -> str:
        if self.code_sent_to is None:
            raise TransactionError("no e-mail code was sent in this transaction")
        return self.code_sent_to

    # -- serialised, here only ------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phase": self.phase.value,
            "purpose": self.purpose,
            "then": self.then,
            "portal": self.portal.to_json(),
            "role": self.choices.role,
            "route": self.choices.route,
            "group": self.choices.group,
            "remember": self.remember,
            "register": self.register,
            "idp": self.idp,
            "upstream": self.upstream,
            "held": self.held.to_json() if self.held else None,
            "unmet": self.unmet,
            "pending": self.pending.to_data() if self.pending else None,
            "draft": self.draft.to_data() if self.draft else None,
            "code_sent_to": self.code_sent_to,
            "language": self.language,
            "linking": self.linking.to_data() if self.linking else None,
            "others": [dataclasses.asdict(k) for k in self.others],
            "link_failed": self.link_failed,
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoginState:
        """Raises TransactionError for a state no version of the broker wrote."""
        try:
            return cls._read(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise TransactionError("login transaction state unreadable") from exc

    @classmethod
    def _read(cls, data: dict[str, Any]) -> LoginState:
        pending, linking = data.get("pending"), data.get("linking")
        upstream = data.get("upstream")
        state = cls(
            purpose="account" if data.get("purpose") == "account" else "portal",
            then=_text(data.get("then")),
            portal=PortalView.from_json(data.get("portal")),
            choices=Choices(
                _text(data.get("role")), _text(data.get("route")), _text(data.get("group"))
            ),
            remember=bool(data.get("remember")),
            register=bool(data.get("register")),
            idp=_text(data.get("idp")),
            upstream=upstream if isinstance(upstream, dict) else None,
            held=HeldAnswer.from_json(data.get("held")),
            unmet=bool(data.get("unmet")),
            pending=PendingLogin.from_data(pending) if isinstance(pending, dict) else None,
            draft=Draft.from_data(data.get("draft")),
            code_sent_to=_text(data.get("code_sent_to")),
            language=_text(data.get("language")),
            linking=PendingLogin.from_data(linking) if isinstance(linking, dict) else None,
            others=tuple(IdentityKeys(**k) for k in data.get("others") or ()),
            link_failed=bool(data.get("link_failed")),
        )
        phase = data.get("phase")
        return dataclasses.replace(
            state, phase=Phase(phase) if isinstance(phase, str) else state._derived_phase()
        )

    def _derived_phase(self) -> Phase:
        """The phase of a state written before it was recorded."""
        if self.code_sent_to is not None:
            return Phase.CONFIRMING
        if self.pending is not None:
            return Phase.REGISTERING
        if self.idp is not None and (self.upstream is not None or self.held is not None):
            return Phase.UPSTREAM
        return Phase.LINKING if self.linking is not None else Phase.CHOOSING


def state_of(tx: TransactionRecord) -> LoginState:
    return LoginState.from_json(tx.data)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
