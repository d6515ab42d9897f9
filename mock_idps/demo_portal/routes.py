"""The portal's pages: login through the broker, the one-time profile, the claims, and logout.

Tokens, codes and cookies are never logged; failures are logged with a short reference that the
error page shows too.
"""

from __future__ import annotations

import logging
import re
import secrets

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.base_client.errors import (  # type: ignore[import-untyped]
    MismatchingStateError,
)
from joserfc.errors import JoseError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from mock_idps.demo_portal.logout_tokens import LogoutTokenError
from mock_idps.demo_portal.pages import claim_rows, csrf_ok, language, render, session_of
from mock_idps.demo_portal.portal import portal_of
from mock_idps.demo_portal.prefill import prefill
from mock_idps.demo_portal.sessions import LoginSession
from mock_idps.demo_portal.texts import (
    AMMATTIRYHMAT,
    HYVINVOINTIALUEET,
    ammattiryhma_options,
    hyvinvointialue_options,
)

log = logging.getLogger("mock_idps.demo_portal")

NO_STORE = {"Cache-Control": "no-store"}
# OAuth 2.0 / OIDC error codes the broker may send back -> the message shown to the person.
BROKER_ERRORS = {
    "access_denied": "error_access_denied",
    "login_required": "error_login_required",
    "interaction_required": "error_login_required",
    "consent_required": "error_login_required",
    "account_selection_required": "error_login_required",
    "temporarily_unavailable": "error_unavailable",
    "server_error": "error_unavailable",
}
ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")
MAX_DESCRIPTION = 300


class LoginError(Exception):
    """The broker's answer was not an acceptable login."""


# What a failed discovery, token request, ID token check or userinfo call can raise.
OIDC_ERRORS = (AuthlibBaseError, JoseError, httpx.HTTPError, LoginError, RuntimeError, KeyError)


def current_login(request: Request) -> LoginSession | None:
    session = session_of(request)
    login = portal_of(request).sessions.get(session.get("login"))
    if login is None:
        session.pop("login", None)
    return login


async def front(request: Request) -> Response:
    logged_out = "state" in request.query_params and await _logout_returned(request)
    return render(request, "index.html", login=current_login(request), logged_out=logged_out)


async def _logout_returned(request: Request) -> bool:
    """RP-Initiated Logout §3: the broker came back with the `state` this portal sent."""
    try:
        await portal_of(request).oidc.validate_logout_response(request)
    except AuthlibBaseError:
        log.warning("post-logout redirect with an unknown state; ignored")
        return False
    return True


async def login(request: Request) -> Response:
    portal = portal_of(request)
    try:
        response: Response = await portal.oidc.authorize_redirect(
            request, portal.config.redirect_uri, ui_locales=language(request)
        )
    except OIDC_ERRORS as exc:
        return login_failed(request, "error_unavailable", exc)
    return response


async def callback(request: Request) -> Response:
    if "error" in request.query_params:
        return await _broker_error(request)
    try:
        login = await _complete_login(request)
    except MismatchingStateError as exc:
        return login_failed(request, "error_expired", exc)
    except OIDC_ERRORS as exc:
        return login_failed(request, "error_failed", exc)
    portal = portal_of(request)
    session = session_of(request)
    previous = session.get("login")
    if isinstance(previous, str):
        portal.sessions.drop(previous)
    session["login"] = login.session_id
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("login completed; portal session started")
    target = "/me" if portal.profiles.get(login.sub) else "/profile"
    return RedirectResponse(target, status_code=303)


async def _complete_login(request: Request) -> LoginSession:
    """authlib redeems the code (PKCE) and checks the ID token: signature against the broker's
    JWKS, iss, aud, exp, nonce and at_hash. Then userinfo, whose sub must be the ID token's."""
    portal = portal_of(request)
    issuer = portal.config.issuer
    if request.query_params.get("iss", issuer) != issuer:
        raise LoginError("the iss parameter names another issuer (RFC 9207)")
    token = await portal.oidc.authorize_access_token(request)
    claims = token.get("userinfo")
    if not claims or not isinstance(token.get("id_token"), str):
        raise LoginError("the token response has no ID token")
    if claims.get("iss") != issuer:
        raise LoginError("the ID token's iss is not the configured issuer")
    userinfo = await portal.oidc.userinfo(token=token)
    if userinfo.get("sub") != claims["sub"]:
        raise LoginError("userinfo's sub differs from the ID token's (OIDC Core §5.3.4)")
    sid = claims.get("sid")
    return portal.sessions.create(
        claims["sub"],
        sid if isinstance(sid, str) else None,
        token["id_token"],
        dict(claims),
        dict(userinfo),
    )


async def _broker_error(request: Request) -> Response:
    """An error response (RFC 6749 §4.1.2.1). Its description is shown only when the `state`
    matches a login this browser started, so a crafted link cannot put words on the page."""
    params = request.query_params
    framework = portal_of(request).oidc.framework
    session = session_of(request)
    state = params.get("state")
    pending = bool(state) and await framework.get_state_data(session, state) is not None
    if pending:
        await framework.clear_state_data(session, state)
    error = params["error"]
    description = params.get("error_description") if pending else None
    return login_failed(
        request,
        BROKER_ERRORS.get(error, "error_failed"),
        None,
        code=error if ERROR_CODE.fullmatch(error) else None,
        description=description[:MAX_DESCRIPTION] if description else None,
    )


def login_failed(
    request: Request,
    message: str,
    exc: BaseException | None,
    *,
    code: str | None = None,
    description: str | None = None,
) -> Response:
    reference = secrets.token_hex(4)
    reason = f"{type(exc).__name__}: {exc}"[:300] if exc else f"the broker answered {code}"
    log.warning("login failed [ref %s]: %s", reference, reason)
    return render(
        request,
        "error.html",
        status_code=400,
        title="error_title",
        message=message,
        error_code=code,
        description=description,
        reference=reference,
        retry=True,
    )


def page_failed(
    request: Request, message: str, status_code: int = 400, reference: str | None = None
) -> Response:
    if reference is None:
        reference = secrets.token_hex(4)
        log.warning("request refused [ref %s]: %s", reference, message)
    return render(
        request,
        "error.html",
        status_code=status_code,
        title="page_error_title",
        message=message,
        error_code=None,
        description=None,
        reference=reference,
        retry=False,
    )


async def profile(request: Request) -> Response:
    """The portal's own profile, filled in once after the first login (seed 001), pre-filled
    from the claims where they fit."""
    login = current_login(request)
    if login is None:
        return RedirectResponse("/", status_code=303)
    portal = portal_of(request)
    if request.method == "GET":
        saved = portal.profiles.get(login.sub)
        if saved:
            return _profile_form(request, saved.ammattiryhma, saved.hyvinvointialue or "")
        return _profile_form(request, *prefill(login.userinfo))
    form = await request.form()
    if not csrf_ok(request, form.get("csrf_token")):
        return page_failed(request, "error_csrf")
    ryhma, alue = _text(form, "ammattiryhma"), _text(form, "hyvinvointialue")
    if ryhma not in AMMATTIRYHMAT or (alue and alue not in HYVINVOINTIALUEET):
        return _profile_form(request, ryhma, alue, invalid=True)
    portal.profiles.save(login.sub, ryhma, alue or None)
    return RedirectResponse("/me", status_code=303)


def _profile_form(request: Request, ryhma: str, alue: str, *, invalid: bool = False) -> Response:
    lang = language(request)
    return render(
        request,
        "profile.html",
        status_code=400 if invalid else 200,
        ammattiryhmat=ammattiryhma_options(lang),
        hyvinvointialueet=hyvinvointialue_options(lang),
        chosen_ryhma=ryhma,
        chosen_alue=alue,
        invalid=invalid,
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def me(request: Request) -> Response:
    """Who is logged in, the claims the portal received, and the portal's profile."""
    login = current_login(request)
    if login is None:
        return render(request, "me.html", login=None)
    saved = portal_of(request).profiles.get(login.sub)
    if saved is None:
        return RedirectResponse("/profile", status_code=303)
    lang = language(request)
    return render(
        request,
        "me.html",
        login=login,
        id_token_rows=claim_rows(login.id_token_claims),
        userinfo_rows=claim_rows(login.userinfo),
        ammattiryhma=dict(ammattiryhma_options(lang))[saved.ammattiryhma],
        hyvinvointialue=dict(hyvinvointialue_options(lang)).get(saved.hyvinvointialue or ""),
        account_url=portal_of(request).config.issuer + "/account",
    )


async def logout(request: Request) -> Response:
    """Ends the portal session, then RP-Initiated Logout at the broker with id_token_hint and a
    `state` that the front page checks on return."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf_token")):
        return page_failed(request, "error_csrf")
    login = current_login(request)
    session_of(request).pop("login", None)
    if login is None:
        return RedirectResponse("/", status_code=303)
    portal = portal_of(request)
    portal.sessions.drop(login.session_id)
    log.info("logout: portal session ended; sending the browser to the broker")
    try:
        response: Response = await portal.oidc.logout_redirect(
            request,
            post_logout_redirect_uri=portal.config.post_logout_redirect_uri,
            id_token_hint=login.id_token,
            client_id=portal.config.client_id,
            ui_locales=language(request),
        )
    except OIDC_ERRORS as exc:
        log.warning("logout at the broker skipped: %s", type(exc).__name__)
        return RedirectResponse("/", status_code=303)
    response.status_code = 303  # answer to a POST: the browser follows with a GET
    return response


async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0 §2.5-2.8: the broker's server calls this."""
    form = await request.form()
    values = form.getlist("logout_token")
    if len(values) != 1 or not isinstance(values[0], str):
        return _logout_refused("logout_token is missing or repeated")
    try:
        claims = await portal_of(request).logout_tokens.validate(values[0])
    except LogoutTokenError as exc:
        return _logout_refused(str(exc))
    ended = portal_of(request).sessions.drop_for_logout(claims.get("sid"), claims.get("sub"))
    log.info("back-channel logout accepted; %d portal session(s) ended", ended)
    return Response(status_code=200, headers=NO_STORE)


def _logout_refused(reason: str) -> Response:
    log.warning("back-channel logout refused: %s", reason)
    return JSONResponse({"error": "invalid_request"}, status_code=400, headers=NO_STORE)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers=NO_STORE)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: a page with a reference, never a stack trace (it goes to the log)."""
    reference = secrets.token_hex(4)
    log.error("unexpected error [ref %s]", reference, exc_info=exc)
    return page_failed(request, "error_internal", status_code=500, reference=reference)


ROUTES = [
    Route("/", front, methods=["GET"]),
    Route("/login", login, methods=["GET"]),
    Route("/callback", callback, methods=["GET"]),
    Route("/profile", profile, methods=["GET", "POST"]),
    Route("/me", me, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/backchannel-logout", backchannel_logout, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
]
