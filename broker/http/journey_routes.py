"""The login journey's pages: role, route, group, organisation, the upstream callback."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from broker import paths
from broker.errors import LoginElsewhereError, NotFoundError, TransactionError
from broker.http.context import broker, locale_of
from broker.http.cookies import REMEMBER
from broker.http.errors import NO_STORE
from broker.http.forms import csrf_token, single_values
from broker.http.notices import step_notices
from broker.http.pages import page
from broker.http.responses import logged_in, redirect
from broker.http.transaction import checked_form, current_transaction
from broker.journey.login_state import state_of
from broker.journey.steps import STEP_PATHS, Step
from broker.store.records import TransactionRecord
from broker.upstream.saml.post_binding import check_saml_post

MAX_EMAIL = 254
MAX_QUERY = 100


def _step(request: Request) -> Step:
    try:
        return Step(request.path_params["step"])
    except ValueError as exc:
        raise NotFoundError(request.url.path) from exc


async def show_step(request: Request) -> Response:
    tx = await current_transaction(request)
    wanted = _step(request)
    step = broker(request).journey.step_to_show(tx, wanted)
    if step is not wanted:
        return RedirectResponse(STEP_PATHS[step], 303, headers=NO_STORE)
    query = request.query_params.get("q", "")[:MAX_QUERY] if step is Step.ORGANISATION else ""
    return await render_step(request, tx, step, query=query)


async def render_step(
    request: Request,
    tx: TransactionRecord,
    step: Step,
    *,
    status_code: int = 200,
    email_error: bool = False,
    email_value: str = "",
    query: str = "",
) -> Response:
    """`query`: the organisation page's search (GET ?q=, so it works without JavaScript); the
    organisations it does not match are rendered `hidden`, so the page's script can filter the
    same full list as the person types."""
    ctx = broker(request)
    locale = locale_of(request, tx.request.get("ui_locales"))
    state = state_of(tx)
    choices = state.choices
    journey_map = ctx.journey.map_for(tx)
    options = journey_map.options(step, choices, locale)
    options, unavailable, notices = await step_notices(ctx.journey, step, choices, options)
    remembered = None
    if step is Step.ROLE:
        idp = journey_map.registry.idp(ctx.cookies.read(request.cookies, REMEMBER) or "")
        remembered = idp.names.get(locale) if idp and journey_map.offers_idp(idp) else None
    offered = journey_map.options(Step.ROUTE, choices, "fi")
    routes = [journey_map.registry.route(o.id) for o in offered]
    personal = any(r is not None and r.kind == "personal" for r in routes)
    order = list(Step)
    back = STEP_PATHS[order[order.index(step) - 1]] if step is not Step.ROLE else None
    return page(
        request,
        "choice.html",
        status_code=status_code,
        ui_locales=tx.request.get("ui_locales"),
        step=step.value,
        options=options,
        unavailable=unavailable,
        notices=notices,
        action=STEP_PATHS[step],
        csrf_token=csrf_token(request, tx.tx_id),
        tx=tx.tx_id,
        back_url=back,
        remembered=remembered,
        email_shortcut=step is Step.GROUP and bool(journey_map.registry.idps()),
        email_error=email_error,
        email_value=email_value,
        register_url=paths.LOGIN_REGISTER if step is Step.ROUTE and personal else None,
        portal=state.portal,
        query=query.strip(),
        shown=[o.id for o in options if o.matches(query)],
        shown_unavailable=[o.id for o, _ in unavailable if o.matches(query)],
    )


async def choose_step(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await checked_form(request, tx)
    step = _step(request)
    if step is Step.ORGANISATION and form.get("remember") == "yes":
        tx = await ctx.journey.remember_choice(tx)
    return redirect(request, await ctx.journey.choose(tx, step, form.get("choice", "")))


async def choose_by_email(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await checked_form(request, tx)
    email = form.get("email", "").strip()[:MAX_EMAIL]
    outcome = await ctx.journey.choose_by_email(tx, email) if "@" in email else None
    if outcome is None:
        return await render_step(
            request, tx, Step.GROUP, status_code=400, email_error=True, email_value=email
        )
    return redirect(request, outcome)


async def register_entry(request: Request) -> Response:
    """ "Register a professional account" on the route page."""
    ctx = broker(request)
    tx = await current_transaction(request)
    await checked_form(request, tx)
    return redirect(request, await ctx.journey.register_explicitly(tx))


async def choose_remembered(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    await checked_form(request, tx)
    remembered = ctx.cookies.read(request.cookies, REMEMBER)
    return redirect(request, await ctx.journey.choose_remembered(tx, remembered))


async def return_unmet(request: Request) -> Response:
    """From the page of a refused answer back to the portal, with the OAuth error (the
    transaction of this browser's cookie only; a GET, as it ends in the error the portal is
    owed anyway)."""
    ctx = broker(request)
    raise await ctx.journey.return_unmet(await current_transaction(request))


async def upstream_callback(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    params, _ = single_values(request.query_params)
    idp_id = request.path_params["idp_id"]
    outcome = await ctx.journey.oidc_callback(tx, idp_id, params)
    return logged_in(request, outcome, state_of(tx).remember)


async def saml_acs(request: Request) -> Response:
    """Cross-site POST from the IdP: no cookie is expected here (see LoginJourney)."""
    form, _ = single_values(await request.form())
    if not form.get("RelayState") or "SAMLResponse" not in form:
        raise TransactionError("SAML POST without SAMLResponse or RelayState")
    check_saml_post(form["SAMLResponse"])
    outcome = await broker(request).journey.hold_saml_response(form)
    return RedirectResponse(outcome.url, 303, headers=NO_STORE)


async def saml_continue(request: Request) -> Response:
    """Only the browser that began the login (its cookie) and posted the answer (the handle)."""
    params, _ = single_values(request.query_params)
    try:
        tx = await current_transaction(request)
    except TransactionError as exc:
        raise LoginElsewhereError("SAML answer in a browser without its login") from exc
    outcome = await broker(request).journey.saml_continue(tx, params.get("h", ""))
    return logged_in(request, outcome, state_of(tx).remember)


ROUTES = [
    Route(paths.LOGIN_EMAIL, choose_by_email, methods=["POST"]),
    Route(paths.LOGIN_REMEMBERED, choose_remembered, methods=["POST"]),
    Route(paths.RETURN_UNMET, return_unmet, methods=["GET"]),
    Route(paths.LOGIN_REGISTER, register_entry, methods=["POST"]),
    Route(paths.LOGIN_STEP, show_step, methods=["GET"]),
    Route(paths.LOGIN_STEP, choose_step, methods=["POST"]),
    Route(paths.OIDC_CALLBACK + "/{idp_id}", upstream_callback, methods=["GET"]),
    Route(paths.SAML_ACS, saml_acs, methods=["POST"]),
    Route(paths.SAML_CONTINUE, saml_continue, methods=["GET"]),
]
