"""Following the journey's decisions: a redirect with the cookies it asked for."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from broker.http.context import broker
from broker.http.cookies import REMEMBER, SESSION, TRANSACTION
from broker.http.errors import NO_STORE
from broker.journey.completion import Redirect

ONE_YEAR = 365 * 24 * 3600


def redirect(request: Request, outcome: Redirect) -> Response:
    """Follow the journey's decision, setting the cookies it asked for."""
    ctx = broker(request)
    response = RedirectResponse(outcome.url, status_code=303, headers=NO_STORE)
    if outcome.tx_id:
        ctx.cookies.set(response, TRANSACTION, outcome.tx_id, ctx.settings.tokens.transaction_ttl)
    if outcome.session:
        ctx.cookies.set(response, SESSION, outcome.session.sid, ctx.settings.tokens.session_ttl)
        ctx.cookies.clear(response, TRANSACTION)
    return response


def logged_in(request: Request, outcome: Redirect, remember: bool) -> Response:
    """Back to the portal; the organisation is remembered if the person asked for it."""
    response = redirect(request, outcome)
    if outcome.remember_idp and remember:
        broker(request).cookies.set(response, REMEMBER, outcome.remember_idp, ONE_YEAR)
    return response
