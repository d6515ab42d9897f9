"""The login journey's steps as a small explicit state machine over the login transaction.

    role ─▶ route ─┬─▶ group ─▶ organisation ─▶ upstream ─▶ callback ─▶ code to the portal
                   └─▶ (route with its own IdPs) ──────────▶ upstream

Each choice is checked against the choices before it, so a reload, the Back button or a double
submit lands on a sensible step instead of an error: a step whose prerequisites are missing sends
the browser to the first step that still needs an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from broker import paths
from broker.accounts.catalogue import fold
from broker.store.records import SessionRecord
from broker.upstream.registry import Choice, IdP, Registry


class Step(StrEnum):
    ROLE = "role"
    ROUTE = "route"
    GROUP = "group"
    ORGANISATION = "organisation"


STEP_PATHS = {step: paths.LOGIN_STEP.format(step=step.value) for step in Step}


@dataclass(frozen=True)
class Option:
    """One button on a choice page. `search`: what the organisation page's search matches
    (the names in every language and the id, folded), empty on the other steps."""

    id: str
    name: str
    description: str | None = None
    search: str = ""

    def matches(self, query: str) -> bool:
        """Whether every word of `query` is in `search`, case and accents aside ("hus",
        "oulu", "helsingfors" and "ylio" all find what a person would expect)."""
        return all(word in self.search for word in fold(query).split())


@dataclass(frozen=True)
class Choices:
    """What the person has chosen so far (part of the login's state, `login_state.py`)."""

    role: str | None = None
    route: str | None = None
    group: str | None = None


class JourneyMap:
    """Which options each step offers, given the choices before it; a portal's map offers only
    the routes and IdPs its policy lists (`for_portal`; empty lists: everything)."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        routes: Collection[str] = (),
        idps: Collection[str] = (),
    ) -> None:
        """`registry`: the current one (a reload of the IdP files replaces it)."""
        self._registry = registry
        self._routes = frozenset(routes)
        self._idps = frozenset(idps)

    @property
    def registry(self) -> Registry:
        return self._registry()

    def for_portal(self, routes: Collection[str], idps: Collection[str]) -> JourneyMap:
        return JourneyMap(self._registry, routes, idps)

    def offers_session(self, session: SessionRecord) -> bool:
        """Whether an SSO session may answer the portal: it came by an IdP the portal offers
        (the `idp` claim of its login). A portal that restricts nothing takes any session."""
        if not self._routes and not self._idps:
            return True
        idp = self.registry.idp(str(session.claims.get("idp", "")))
        return idp is not None and self.offers_idp(idp)

    def offers_idp(self, idp: IdP) -> bool:
        """Whether the IdP is the portal's, on a route of the portal's (every way to an IdP,
        choice page, hint, e-mail or remembered choice, ends at this check)."""
        if self._idps and idp.id not in self._idps:
            return False
        return not self._routes or any(r in self._routes for r in self.routes_to(idp))

    def first_open_step(self, choices: Choices) -> Step:
        if not self._valid_role(choices.role):
            return Step.ROLE
        if not self._valid_route(choices):
            return Step.ROUTE
        route = self.registry.route(choices.route or "")
        if route is not None and route.groups and not self._valid_group(choices):
            return Step.GROUP
        return Step.ORGANISATION

    def options(self, step: Step, choices: Choices, locale: str) -> list[Option]:
        if step is Step.ROLE:
            return [
                _option(r, locale) for r in self.registry.journey.roles if self._routes_of(r.id)
            ]
        if step is Step.ROUTE:
            return [_option(r, locale) for r in self._routes_of(choices.role or "")]
        if step is Step.GROUP:
            return [_option(g, locale) for g in self._groups_of(choices.route or "")]
        return [
            Option(i.id, i.names.get(locale), search=_search_text(i))
            for i in self.idps_for(choices.route, choices.group)
        ]

    def idps_for(self, route_id: str | None, group_id: str | None) -> list[IdP]:
        route = self.registry.route(route_id or "")
        if route is None:
            return []
        if route.groups:
            if group_id not in route.groups:
                return []
            found = self.registry.idps_in_group(group_id or "")
        else:
            found = [i for i in (self.registry.idp(x) for x in route.idps) if i is not None]
        return [i for i in found if not self._idps or i.id in self._idps]

    def routes_to(self, idp: IdP) -> list[str]:
        """The routes that lead to the organisation (its own, or through its group)."""
        return [
            r.id
            for r in self.registry.journey.routes
            if idp.id in r.idps or (idp.group is not None and idp.group in r.groups)
        ]

    def _routes_of(self, role_id: str) -> list[Choice]:
        role = self.registry.role(role_id)
        if role is None:
            return []
        routes = [self.registry.route(r) for r in role.routes if self._offers_route(r)]
        return [r for r in routes if r is not None and self._route_has_idps(r.id)]

    def _offers_route(self, route_id: str) -> bool:
        return not self._routes or route_id in self._routes

    def _groups_of(self, route_id: str) -> list[Choice]:
        route = self.registry.route(route_id)
        if route is None:
            return []
        groups = [self.registry.group(g) for g in route.groups]
        return [g for g in groups if g is not None and self.idps_for(route_id, g.id)]

    def _route_has_idps(self, route_id: str) -> bool:
        route = self.registry.route(route_id)
        if route is None:
            return False
        if route.groups:
            return bool(self._groups_of(route_id))
        return bool(self.idps_for(route_id, None))

    def _valid_role(self, role_id: str | None) -> bool:
        return role_id is not None and bool(self._routes_of(role_id))

    def _valid_route(self, choices: Choices) -> bool:
        return any(r.id == choices.route for r in self._routes_of(choices.role or ""))

    def _valid_group(self, choices: Choices) -> bool:
        return any(g.id == choices.group for g in self._groups_of(choices.route or ""))

    def allows_idp(self, choices: Choices, idp_id: str) -> bool:
        return any(i.id == idp_id for i in self.idps_for(choices.route, choices.group))


def _option(choice: Choice, locale: str) -> Option:
    description = choice.descriptions.get(locale) if choice.descriptions else None
    return Option(choice.id, choice.names.get(locale), description)


def _search_text(idp: IdP) -> str:
    """An organisation's names in every language and its id, folded: a Swedish page finds
    HUS by its Finnish name too, and the abbreviation is in every name."""
    return fold(" ".join([idp.names.fi, idp.names.sv, idp.names.en, idp.id]))
