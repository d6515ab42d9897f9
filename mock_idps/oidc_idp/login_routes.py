"""What a browser sees: /authorize, the login form, /logout, and an index of the issuers.

The decision at /authorize is the one a real OP makes: a valid IdP session answers at once with a
code, unless prompt=login or an exceeded max_age demands a fresh login; prompt=none never shows the
form and answers login_required instead.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mock_idps.oidc_idp.authorize import (
    AuthorizationRequest,
    AuthorizationRequestError,
    validate_authorization_request,
)
from mock_idps.oidc_idp.config import LOCALES, Organisation
from mock_idps.oidc_idp.errors import LoginRequiredError, OAuthError, UnredirectableError
from mock_idps.oidc_idp.grants import Grant
from mock_idps.oidc_idp.keys import ALGORITHM
from mock_idps.oidc_idp.provider import MockIdP, idp_of, org_of
from mock_idps.oidc_idp.sessions import (
    IdPSession,
    csrf_ok,
    end_session,
    issue_csrf_token,
    open_request,
    read_session,
    seal_request,
    set_csrf_cookie,
    start_session,
)
from mock_idps.oidc_idp.texts import LANGUAGE_NAMES, TEXTS

log = logging.getLogger("mock_idps.oidc_idp")
AMR = ("pwd",)  # RFC 8176: the test users log in with a password


async def authorize(request: Request) -> Response:
    org, idp = org_of(request), idp_of(request)
    items = await _parameters(request)
    try:
        auth_request, _client = validate_authorization_request(
            items, idp.config.clients, org.org_id
        )
    except UnredirectableError as exc:
        log.info("authorize refused without redirect: org=%s reason=%s", org.org_id, exc)
        return idp.pages.error(_locale(items), str(exc))
    except AuthorizationRequestError as exc:
        log.info("authorize refused: org=%s error=%s", org.org_id, exc.error.error)
        return _error_redirect(idp, org, exc.redirect_uri, exc.error, exc.state)
    return _continue(request, idp, org, auth_request)


async def login(request: Request) -> Response:
    """The login form's POST: check CSRF and password, start the IdP session, send the code."""
    org, idp = org_of(request), idp_of(request)
    form = await request.form()
    now = idp.now()
    params = open_request(idp.signer, org.org_id, _field(form, "request"), now)
    locale = _locale(list(params.items())) if params else "fi"
    if params is None or not csrf_ok(request, idp.signer, org.org_id, _field(form, "csrf_token")):
        return idp.pages.error(locale, TEXTS[locale]["form_expired"])
    try:
        auth_request, _client = validate_authorization_request(
            list(params.items()), idp.config.clients, org.org_id
        )
    except (UnredirectableError, AuthorizationRequestError) as exc:
        return idp.pages.error(locale, str(exc))
    username, password = _field(form, "username").strip(), _field(form, "password")
    user = org.user(username)
    if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
        log.info("login failed: org=%s username=%s", org.org_id, username if user else "(unknown)")
        error = TEXTS[auth_request.locale]["bad_credentials"]
        return _login_form(request, idp, org, auth_request, username=username, error=error)
    log.info("login: org=%s username=%s", org.org_id, user.username)
    session = IdPSession(user.sub, now)
    response = _code_redirect(idp, org, auth_request, session, status_code=303)
    start_session(response, idp.signer, org.org_id, idp.cookie_scope(org.org_id), session)
    return response


async def logout(request: Request) -> Response:
    """RP-initiated logout: end the IdP session; redirect only to a registered URI of the client."""
    org, idp = org_of(request), idp_of(request)
    params = dict(await _parameters(request))
    locale = _locale(list(params.items()))
    response = _logout_response(idp, org, params, locale)
    end_session(response, idp.cookie_scope(org.org_id))
    log.info("logout: org=%s", org.org_id)
    return response


async def index(request: Request) -> Response:
    """A page for people: which issuers this mock serves and the test users of each."""
    idp = idp_of(request)
    orgs = [(org, idp.issuer(oid)) for oid, org in idp.config.organisations.items()]
    return idp.pages.render(
        "index.html", "fi", title=TEXTS["fi"]["index_title"], organisations=orgs
    )


def _continue(
    request: Request, idp: MockIdP, org: Organisation, auth_request: AuthorizationRequest
) -> Response:
    now = idp.now()
    session = read_session(request, idp.signer, org.org_id, now)
    if session is not None and org.user_by_sub(session.sub) is None:
        session = None  # the user was removed from the YAML since
    if session is not None and not _must_log_in(auth_request, session, now):
        return _code_redirect(idp, org, auth_request, session, status_code=302)
    if "none" in auth_request.prompt:
        error = LoginRequiredError("the person must log in at the organisation")
        return _error_redirect(idp, org, auth_request.redirect_uri, error, auth_request.state)
    return _login_form(request, idp, org, auth_request, username=auth_request.login_hint or "")


def _must_log_in(auth_request: AuthorizationRequest, session: IdPSession, now: int) -> bool:
    if "login" in auth_request.prompt:
        return True
    max_age = auth_request.max_age
    return max_age is not None and now - session.auth_time >= max_age


def _code_redirect(
    idp: MockIdP,
    org: Organisation,
    auth_request: AuthorizationRequest,
    session: IdPSession,
    *,
    status_code: int,
) -> Response:
    grant = Grant(
        org_id=org.org_id,
        client_id=auth_request.client_id,
        sub=session.sub,
        scope=auth_request.scope,
        auth_time=session.auth_time,
        acr=org.choose_acr(auth_request.acr_values),
        amr=AMR,
        nonce=auth_request.nonce,
    )
    code = idp.grants.issue_code(
        grant, auth_request.redirect_uri, auth_request.code_challenge, idp.clock()
    )
    params = {"code": code, "state": auth_request.state, "iss": idp.response_iss(org.org_id)}
    return _redirect(auth_request.redirect_uri, params, status_code)


def _error_redirect(
    idp: MockIdP, org: Organisation, redirect_uri: str, error: OAuthError, state: str | None
) -> Response:
    """RFC 6749 §4.1.2.1, with RFC 9207's `iss` so a client can tell which IdP answered."""
    params = error.as_dict() | {"state": state, "iss": idp.response_iss(org.org_id)}
    return _redirect(redirect_uri, params, 302)


def _redirect(uri: str, params: Mapping[str, str | None], status_code: int) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    response = RedirectResponse(f"{uri}{separator}{query}", status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_form(
    request: Request,
    idp: MockIdP,
    org: Organisation,
    auth_request: AuthorizationRequest,
    *,
    username: str,
    error: str | None = None,
) -> Response:
    now = idp.now()
    token, new_binding = issue_csrf_token(request, idp.signer, org.org_id)
    response = idp.pages.login(
        org,
        auth_request.locale,
        action=idp.endpoint(org.org_id, "login"),
        client_id=auth_request.client_id,
        sealed_request=seal_request(idp.signer, org.org_id, auth_request.as_params(), now),
        csrf_token=token,
        username=username,
        error=error,
        languages=_language_links(idp, org, auth_request),
    )
    if new_binding is not None:
        set_csrf_cookie(response, new_binding, idp.cookie_scope(org.org_id))
    return response


def _language_links(
    idp: MockIdP, org: Organisation, auth_request: AuthorizationRequest
) -> list[tuple[str, str, str]]:
    authorize_url = idp.endpoint(org.org_id, "authorize")
    return [
        (
            code,
            name,
            f"{authorize_url}?{urlencode(auth_request.as_params() | {'ui_locales': code})}",
        )
        for code, name in LANGUAGE_NAMES.items()
        if code != auth_request.locale
    ]


def _logout_response(
    idp: MockIdP, org: Organisation, params: Mapping[str, str], locale: str
) -> Response:
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        audience = _audience_of_hint(idp, org, hint)
        if audience is None or client_id not in (None, audience):
            return idp.pages.error(locale, "id_token_hint is not an ID token of this issuer")
        client_id = audience
    target = params.get("post_logout_redirect_uri")
    if not target:
        text = TEXTS[locale]
        title = text["logged_out_title"].format(org=org.short_name)
        return idp.pages.message(locale, title, text["logged_out"], is_error=False)
    client = idp.config.clients.get(client_id or "")
    if client is None or target not in client.post_logout_redirect_uris:
        return idp.pages.error(locale, "post_logout_redirect_uri is not registered for the client")
    return _redirect(target, {"state": params.get("state")}, 302)


def _audience_of_hint(idp: MockIdP, org: Organisation, hint: str) -> str | None:
    """The client an ID token of ours was issued to; an expired one is still a fine hint."""
    try:
        token = jwt.decode(hint, idp.keys[org.org_id].signing_key, algorithms=[ALGORITHM])
    except (JoseError, ValueError):
        return None
    audience = token.claims.get("aud")
    if token.claims.get("iss") != idp.issuer(org.org_id):
        return None
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    return audience if isinstance(audience, str) else None


async def _parameters(request: Request) -> list[tuple[str, str]]:
    """Query parameters for GET, form fields for POST (OIDC Core §3.1.2.1 allows both)."""
    source: QueryParams | FormData = (
        await request.form() if request.method == "POST" else request.query_params
    )
    return [(k, v) for k, v in source.multi_items() if isinstance(v, str)]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _locale(items: Sequence[tuple[str, str]]) -> str:
    requested = next((v for k, v in items if k == "ui_locales"), "")
    return next((loc for loc in requested.split() if loc in LOCALES), "fi")
