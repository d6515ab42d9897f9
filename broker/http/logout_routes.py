"""Logout: RP-Initiated Logout at /end_session, and SAML single logout at /upstream/saml/slo.

The SSO session always ends first; when it came from a SAML IdP with single logout, the browser
then visits the IdP (from a page that refreshes at once, see `logout_upstream.html`), and comes
back to /upstream/saml/slo before it goes where the portal asked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from broker import paths
from broker.errors import NotFoundError, UpstreamLogoutError
from broker.frontend.oidc.codes import redirect_with
from broker.http.context import broker, locale_of
from broker.http.cookies import SESSION
from broker.http.errors import NO_STORE
from broker.http.forms import csrf_ok, csrf_token, single_values
from broker.http.pages import page
from broker.journey.logout import AskFirst, LogoutRedirect, LogoutTarget


async def end_session(request: Request) -> Response:
    """RP-Initiated Logout (`journey.logout.RPLogout` decides)."""
    ctx = broker(request)
    if request.method == "POST":
        params, _ = single_values(await request.form())
    else:
        params, _ = single_values(request.query_params)
    sid = ctx.cookies.read(request.cookies, SESSION)
    bound_to = sid or "no-session"
    confirmed = params.get("confirm") == "yes" and csrf_ok(request, bound_to, params)
    outcome = await ctx.rp_logout.end_session(params, sid, confirmed=confirmed)
    if isinstance(outcome, AskFirst):
        return page(
            request,
            "logout_confirm.html",
            ui_locales=outcome.ui_locales,
            action=paths.END_SESSION,
            csrf_token=csrf_token(request, bound_to),
            client_name=outcome.client_name,
            hidden=_logout_fields(params),
            cancel_url=None,
        )
    if outcome.to_idp is None:
        return after_logout(request, outcome.target)
    return _on_to_idp(request, outcome.to_idp, outcome.target)


def _on_to_idp(request: Request, to_idp: LogoutRedirect, target: LogoutTarget) -> Response:
    """A page that goes on to the IdP at once (a redirect would be subject to the portal's CSP
    form-action, when the logout began with a form)."""
    ctx = broker(request)
    idp = ctx.idps.registry.idp(to_idp.idp_id)
    locale = locale_of(request, target.ui_locales)
    response = page(
        request,
        "logout_upstream.html",
        ui_locales=target.ui_locales,
        next_url=to_idp.url,
        idp_name=idp.names.get(locale) if idp else to_idp.idp_id,
    )
    response.headers.update(NO_STORE)
    ctx.cookies.clear(response, SESSION)
    return response


def after_logout(request: Request, target: LogoutTarget) -> Response:
    """Back to the portal's post_logout_redirect_uri (with its state), or the logged-out page."""
    if target.redirect_uri:
        url = redirect_with(target.redirect_uri, {"state": target.state})
        response: Response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    else:
        response = page(
            request,
            "logged_out.html",
            ui_locales=target.ui_locales,
            client_name=target.client_name,
        )
    broker(request).cookies.clear(response, SESSION)
    return response


async def saml_slo(request: Request) -> Response:
    """HTTP-Redirect: the IdP's LogoutResponse to the broker's LogoutRequest, or the IdP's own
    LogoutRequest (the person logged out elsewhere), answered with a LogoutResponse."""
    ctx = broker(request)
    if not ctx.logouts.enabled:
        raise NotFoundError("no SAML IdP is configured")
    raw_query = request.url.query
    if "SAMLResponse" in request.query_params:
        return after_logout(request, await ctx.logouts.finish(raw_query))
    if "SAMLRequest" not in request.query_params:
        raise UpstreamLogoutError("SLO endpoint called without a SAML message")
    answer = await ctx.logouts.answer_idp(raw_query)
    response = RedirectResponse(answer.url, status_code=303, headers=NO_STORE)
    if ctx.cookies.read(request.cookies, SESSION) in answer.ended:
        ctx.cookies.clear(response, SESSION)
    return response


def _logout_fields(params: dict[str, str]) -> list[tuple[str, str]]:
    keep = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")
    return [(k, params[k]) for k in keep if k in params]


ROUTES = [
    Route(paths.END_SESSION, end_session, methods=["GET", "POST"]),
    Route(paths.SAML_SLO, saml_slo, methods=["GET"]),
]
