"""Pure ASGI middleware counting requests per client address on the endpoints an anonymous
client can call to make the broker work or write: /authorize, /token, the SAML ACS and the
forms of the journey and the account pages. Counted before the body is read, so a refused
request costs one counter upsert and nothing else.

The address is the socket's, or, with `limits.trusted_proxies`, what uvicorn took from the
trusted load balancer's X-Forwarded-For (`broker.cli`). The per-portal limits are counted in
the routes, which know the portal (`broker.http.oidc_routes`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from broker import paths
from broker.errors import RateLimitedError
from broker.http.context import BrokerContext
from broker.http.errors import error_response
from broker.settings import LimitSettings, RateLimit


def rule_for(method: str, path: str, limits: LimitSettings) -> tuple[str, RateLimit | None] | None:
    """The per-address rule of a request: (name, limit), or None for an endpoint not counted."""
    if path == paths.AUTHORIZE:
        return "authorize_ip", limits.authorize_per_ip
    if method != "POST":
        return None
    if path == paths.TOKEN:
        return "token_ip", limits.token_per_ip
    if path == paths.SAML_ACS:
        return "saml_acs_ip", limits.saml_acs_per_ip
    if path.startswith(paths.JOURNEY_PREFIXES):
        return "journey_ip", limits.journey_per_ip
    return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ctx: BrokerContext = scope["app"].state.broker
            rule = rule_for(scope["method"], scope["path"], ctx.settings.limits)
            if rule is not None:
                try:
                    await ctx.limiter.hit(rule[0], client_address(scope), rule[1])
                except RateLimitedError as exc:
                    response = await error_response(Request(scope), exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
