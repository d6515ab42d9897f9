"""Portal-facing endpoints of the OpenID Provider: parse, call the provider, answer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker import paths
from broker.http.context import BrokerContext, broker
from broker.http.cookies import SESSION
from broker.http.errors import NO_STORE
from broker.http.forms import form_of, single_values
from broker.http.responses import redirect


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
    Route(paths.DISCOVERY, discovery, methods=["GET"]),
    Route(paths.JWKS, jwks, methods=["GET"]),
    Route(paths.AUTHORIZE, authorize, methods=["GET", "POST"]),
    Route(paths.TOKEN, token, methods=["POST"]),
    Route(paths.USERINFO, userinfo, methods=["GET", "POST"]),
    Route(paths.REVOKE, revoke, methods=["POST"]),
    Route(paths.INTROSPECT, introspect, methods=["POST"]),
]
