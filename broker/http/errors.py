"""The one place where errors become responses.

OAuthError → JSON per RFC 6749 §5.2 (and RFC 6750 §3 challenges); AuthorizationRedirectError →
303 back to the portal's validated redirect_uri per §4.1.2.1; PageError → a page in the user's
language with a short error id; RequestLimitError (413, 415, 429…) → OAuth error JSON on the
portal-facing endpoints, a page elsewhere; anything else → the same page with status 500 (or a JSON
server_error on the portal-facing endpoints). Every error id is in the log too; during a login,
and for any unexpected error, also in the store with what happened (`AuditTrail.error_shown`, for
`sote-broker errors show`), and the login it ends in the authentication audit trail
(`AuditTrail.login_failed`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker import paths
from broker.errors import (
    AuthorizationRedirectError,
    NotFoundError,
    OAuthError,
    PageError,
    PortalRequirementError,
    RequestLimitError,
    ServerError,
    StoreUnavailableError,
    TooManyFieldsError,
    UpstreamError,
    UpstreamOfflineError,
)
from broker.frontend.oidc.codes import redirect_with
from broker.http.context import broker
from broker.http.notices import error_notices
from broker.http.pages import page
from broker.journey.steps import STEP_PATHS, Step
from broker.store.notices import NoticeRecord

log = logging.getLogger("broker.errors")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def new_error_id() -> str:
    return secrets.token_hex(4)


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status_code, headers={**NO_STORE, **exc.headers()})


async def on_oauth_error(request: Request, exc: OAuthError) -> Response:
    log.info("oauth error %s: %s", exc.error, exc.description, extra={"path": request.url.path})
    return oauth_error_response(exc)


async def on_redirect_error(request: Request, exc: AuthorizationRedirectError) -> Response:
    cause = exc.cause
    log.info("authorization error %s: %s", cause.error, cause.description)
    await broker(request).audit.login_failed(cause)
    params = {
        "error": cause.error,
        "error_description": cause.description or None,
        "state": exc.state,
        "iss": broker(request).settings.issuer,
    }
    return RedirectResponse(redirect_with(exc.redirect_uri, params), 303, headers=NO_STORE)


async def on_page_error(request: Request, exc: PageError) -> Response:
    error_id = new_error_id()
    log.warning(
        "%s: %s",
        type(exc).__name__,
        exc.detail,
        extra={"error_id": error_id, "path": request.url.path},
    )
    await _record(request, exc, error_id, exc.status_code, exc.message_id)
    if isinstance(exc, UpstreamError):  # the transaction lives on: offer the other routes
        offline = exc if isinstance(exc, UpstreamOfflineError) else None
        portal = exc if isinstance(exc, PortalRequirementError) else None
        return await _error_page(
            request,
            exc.message_id,
            error_id,
            exc.status_code,
            back=(STEP_PATHS[Step.ROLE], "error.choose_again"),
            offline=offline,
            portal_return=portal,
        )
    return await _error_page(request, exc.message_id, error_id, exc.status_code)


async def on_limit_error(request: Request, exc: RequestLimitError) -> Response:
    if request.url.path.startswith(paths.JSON_PREFIXES):
        log.info("request refused (%d): %s", exc.status_code, exc.description)
        body = {"error": exc.error, "error_description": exc.description}
        headers = {**NO_STORE, **exc.headers()}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    error_id = new_error_id()
    log.info(
        "request refused (%d): %s",
        exc.status_code,
        exc.description,
        extra={"error_id": error_id, "path": request.url.path},
    )
    response = await _error_page(request, exc.message_id, error_id, exc.status_code)
    response.headers.update(exc.headers())
    return response


async def on_store_unavailable(request: Request, exc: StoreUnavailableError) -> Response:
    error_id = new_error_id()
    log.warning("store unavailable: %s", exc, extra={"error_id": error_id})
    headers = {**NO_STORE, "Retry-After": str(exc.retry_after)}
    if request.url.path.startswith(paths.JSON_PREFIXES):
        body = {"error": exc.error, "error_description": f"try again shortly (error id {error_id})"}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    response = await _error_page(request, exc.message_id, error_id, exc.status_code)
    response.headers.update(headers)
    return response


async def on_http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 400:  # Starlette's form parser: too many fields, or one too long
        return await on_limit_error(request, TooManyFieldsError(exc.detail))
    if exc.status_code == 404:
        return await on_page_error(request, NotFoundError(request.url.path))
    if exc.status_code == 405:
        return oauth_error_response(_MethodNotAllowedError("method not allowed"))
    return await on_unexpected(request, exc)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    error_id = new_error_id()
    log.error("unexpected %s", type(exc).__name__, exc_info=exc, extra={"error_id": error_id})
    await _record(request, exc, error_id, 500, "error.server", unexpected=True)
    if request.url.path.startswith(paths.JSON_PREFIXES):
        return oauth_error_response(ServerError(f"error id {error_id}"))
    return await _error_page(request, "error.server", error_id, 500)


async def _record(
    request: Request,
    exc: Exception,
    error_id: str,
    status: int,
    message_id: str,
    *,
    unexpected: bool = False,
) -> None:
    audit = broker(request).audit
    path = request.url.path
    await audit.error_shown(error_id, path, status, exc, message_id, unexpected=unexpected)
    await audit.login_failed(exc, error_id, unexpected=unexpected)


async def _error_page(
    request: Request,
    message_id: str,
    error_id: str,
    status: int,
    back: tuple[str, str] | None = None,
    offline: UpstreamOfflineError | None = None,
    portal_return: PortalRequirementError | None = None,
) -> Response:
    response = page(
        request,
        "error.html",
        status_code=status,
        title_key=f"{message_id}.title",
        message_key=f"{message_id}.message",
        error_id=error_id,
        back_url=back[0] if back else None,
        back_key=back[1] if back else None,
        notices=await _notices(request, offline),
        return_url=paths.RETURN_UNMET if portal_return else None,
        portal_name=portal_return.portal if portal_return else None,
    )
    response.headers.update(NO_STORE)
    return response


async def _notices(request: Request, offline: UpstreamOfflineError | None) -> list[NoticeRecord]:
    """The notices for an error page (with that of the route or organisation found offline);
    none if even they cannot be had (this page must show)."""
    try:
        if offline is None:
            return await error_notices(request)
        return await error_notices(request, route=offline.route, idp=offline.idp)
    except Exception:
        log.exception("notices for an error page failed")
        return []


class UnexpectedErrorMiddleware:
    """Turns an exception nothing else handled into its response by the table below (the store
    unavailable in a middleware before any route, say), else `on_unexpected`'s 500, inside the
    security-headers and access-log middleware. (Starlette would run an `Exception` handler in
    its outermost ServerErrorMiddleware, whose response skips every other middleware: a 500
    without CSP, HSTS, nosniff or request id.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            if started:  # too late for another response; ServerErrorMiddleware logs it
                raise
            response = await error_response(Request(scope, receive), exc)
            await response(scope, receive, send)


class _MethodNotAllowedError(OAuthError):
    error = "invalid_request"
    status_code = 405


Handler = Callable[[Request, Exception], Awaitable[Response]]

# Starlette picks the handler by the exception's class, so each one receives only its own type.
EXCEPTION_HANDLERS: dict[Any, Handler] = {
    OAuthError: cast(Handler, on_oauth_error),
    AuthorizationRedirectError: cast(Handler, on_redirect_error),
    PageError: cast(Handler, on_page_error),
    RequestLimitError: cast(Handler, on_limit_error),
    HTTPException: cast(Handler, on_http_exception),
    StoreUnavailableError: cast(Handler, on_store_unavailable),
}
"""Anything else is `UnexpectedErrorMiddleware`'s."""


async def error_response(request: Request, exc: Exception) -> Response:
    """The response for `exc` by the table above, for middleware outside Starlette's own
    exception handling (it answers before any route runs)."""
    for kind in type(exc).__mro__:
        if kind in EXCEPTION_HANDLERS:
            return await EXCEPTION_HANDLERS[kind](request, exc)
    return await on_unexpected(request, exc)
