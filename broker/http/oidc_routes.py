"""Portal-facing endpoints of the OpenID Provider: parse, call the provider, answer."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from broker.errors import InvalidRequestError
from broker.http.context import BrokerContext, broker
from broker.http.cookies import SESSION, TRANSACTION
from broker.http.errors import NO_STORE
from broker.journey.flow import Redirect

FORM_TYPE = "application/x-www-form-urlencoded"


def single_values(params: QueryParams | FormData) -> tuple[dict[str, str], frozenset[str]]:
    """Parameters as a plain dict, and the names that were sent more than once (RFC 6749 §3.1)."""
    values: dict[str, str] = {}
    repeated = set()
    for key, value in params.multi_items():
        if not isinstance(value, str):
            raise InvalidRequestError("file uploads are not accepted")
        if key in values:
            repeated.add(key)
        values.setdefault(key, value)
    return values, frozenset(repeated)


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded body with each parameter at most once (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequestError(f"content type must be {FORM_TYPE}")
    values, repeated = single_values(await request.form())
    if repeated:
        raise InvalidRequestError(f"repeated parameter: {sorted(repeated)[0]}")
    return values


async def discovery(request: Request) -> Response:
    headers = {"Cache-Control": "public, max-age=3600"}
    return JSONResponse(broker(request).provider.metadata, headers=headers)


async def jwks(request: Request) -> Response:
    ctx = broker(request)
    keys = ctx.provider.keys
    keys.reload_if_changed()
    max_age = ctx.settings.keys.jwks_cache_seconds
    return JSONResponse(
        dict(keys.public_jwks()), headers={"Cache-Control": f"public, max-age={max_age}"}
    )


async def authorize(request: Request) -> Response:
    ctx = broker(request)
    if request.method == "POST":
        params, repeated = single_values(await request.form())
    else:
        params, repeated = single_values(request.query_params)
    await _count_portal(ctx, params.get("client_id", ""))
    sid = ctx.cookies.read(request.cookies, SESSION)
    outcome = await ctx.journey.begin(params, repeated, sid)
    return redirect(request, outcome)


async def _count_portal(ctx: BrokerContext, client_id: str) -> None:
    """The portal's share of /authorize; counted for registered portals only, so made-up
    client ids cost no counter row."""
    if client_id and await ctx.provider.store.clients.get(client_id) is not None:
        await ctx.limiter.hit(
            "authorize_client", client_id, ctx.settings.limits.authorize_per_client
        )


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


async def token(request: Request) -> Response:
    ctx = broker(request)
    form: dict[str, str] = {}
    try:
        form = await form_of(request)
        body = await _tokens(ctx, form, request.headers.get("authorization"))
    except Exception as exc:  # counted, then answered by the one error mapping
        ctx.metrics.token_request(form.get("grant_type", ""), exc)
        raise
    ctx.metrics.token_request(form.get("grant_type", ""), None)
    return JSONResponse(body, headers=NO_STORE)


async def _tokens(
    ctx: BrokerContext, form: dict[str, str], authorization: str | None
) -> dict[str, Any]:
    client = await ctx.provider.authenticate_client(form, authorization)
    await ctx.limiter.hit("token_client", client.client_id, ctx.settings.limits.token_per_client)
    return await ctx.provider.tokens.handle(client, form)


async def userinfo(request: Request) -> Response:
    ctx = broker(request)
    value = _bearer(request.headers.get("authorization"))
    if request.method == "POST" and value is None:
        form = await form_of(request)
        value = form.get("access_token")
    claims = await ctx.provider.resources.userinfo(value)
    return JSONResponse(claims, headers=NO_STORE)


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


async def revoke(request: Request) -> Response:
    ctx = broker(request)
    form = await form_of(request)
    client = await ctx.provider.authenticate_client(form, request.headers.get("authorization"))
    await ctx.provider.resources.revoke(client, form)
    return Response(status_code=200, headers=NO_STORE)


async def introspect(request: Request) -> Response:
    ctx = broker(request)
    form = await form_of(request)
    client = await ctx.provider.authenticate_client(form, request.headers.get("authorization"))
    body = await ctx.provider.resources.introspect(client, form)
    return JSONResponse(body, headers=NO_STORE)


ROUTES = [
    Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
    Route("/jwks", jwks, methods=["GET"]),
    Route("/authorize", authorize, methods=["GET", "POST"]),
    Route("/token", token, methods=["POST"]),
    Route("/userinfo", userinfo, methods=["GET", "POST"]),
    Route("/revoke", revoke, methods=["POST"]),
    Route("/introspect", introspect, methods=["POST"]),
]
