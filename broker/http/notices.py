"""Which notices a page shows, and which choices they take off it."""

from __future__ import annotations

from starlette.requests import Request

from broker.errors import BrokerError
from broker.http.context import broker
from broker.http.cookies import TRANSACTION
from broker.journey.flow import LoginJourney
from broker.journey.login_state import state_of
from broker.journey.steps import Choices, JourneyMap, Option, Step
from broker.notices.board import Notices
from broker.store.notices import NoticeRecord

Offline = NoticeRecord | None


async def step_notices(
    journey: LoginJourney, step: Step, choices: Choices, options: list[Option]
) -> tuple[list[Option], list[tuple[Option, NoticeRecord]], list[NoticeRecord]]:
    """(options still on offer, options offline with their notice, notices to show): the
    service's notices everywhere, a route's from the route page on, an organisation's where it
    is listed."""
    notices = await journey.current_notices()
    routes = [choices.route] if choices.route and step is not Step.ROLE else []
    idps: list[str] = []
    if step is Step.ROUTE:
        routes = [o.id for o in options]
    if step is Step.ORGANISATION:
        idps = [o.id for o in options]
    offered, unavailable = [], []
    for option in options:
        offline = _offline(notices, journey.map, step, option.id)
        if offline is None:
            offered.append(option)
        else:
            unavailable.append((option, offline))
    return offered, unavailable, notices.for_page(routes, idps)


def _offline(notices: Notices, journey_map: JourneyMap, step: Step, option_id: str) -> Offline:
    if step is Step.ROUTE:
        return notices.offline("route", option_id)
    idp = journey_map.registry.idp(option_id) if step is Step.ORGANISATION else None
    return None if idp is None else notices.offline_idp(idp.id, journey_map.routes_to(idp))


async def error_notices(
    request: Request, *, route: str | None = None, idp: str | None = None
) -> list[NoticeRecord]:
    """The service's notices, and those of the route and organisation this browser's login
    went to (an automatic notice on the IdP that just failed is the one the person needs)."""
    ctx = broker(request)
    notices = await ctx.journey.current_notices()
    try:
        tx = await ctx.journey.current(ctx.cookies.read(request.cookies, TRANSACTION))
    except BrokerError:
        tx = None
    if tx is not None:
        state = state_of(tx)
        route, idp = route or state.choices.route, idp or state.idp
    return notices.for_page([route] if route else [], [idp] if idp else [])
