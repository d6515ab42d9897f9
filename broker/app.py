"""create_app(settings) -> Starlette: routes, middleware, lifespan; the broker itself is put
together by `broker.assembly`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from broker import __version__, paths
from broker.assembly import assemble, make_store
from broker.clock import Clock, SystemClock
from broker.http import (
    account_routes,
    branding_routes,
    health_routes,
    journey_routes,
    logout_routes,
    misc_routes,
    notice_routes,
    oidc_routes,
    registration_routes,
)
from broker.http.body_limit import BodyLimitMiddleware
from broker.http.errors import EXCEPTION_HANDLERS, UnexpectedErrorMiddleware
from broker.http.idp_reload import IdPReloadMiddleware
from broker.http.middleware import AccessLogMiddleware, SecurityHeadersMiddleware
from broker.http.rate_limit import RateLimitMiddleware
from broker.metrics import Metrics
from broker.metrics.store_timing import timed_store
from broker.secret_files import set_private_umask
from broker.settings import Settings

log = logging.getLogger(__name__)

ROUTES: list[BaseRoute] = [
    *oidc_routes.ROUTES,
    *logout_routes.ROUTES,
    *journey_routes.ROUTES,
    *registration_routes.ROUTES,
    *account_routes.ROUTES,
    *misc_routes.ROUTES,
    *health_routes.ROUTES,
    *notice_routes.ROUTES,
    *branding_routes.ROUTES,
]


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    metrics = Metrics()
    untimed_store = make_store(settings)
    store = timed_store(untimed_store, metrics.store_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        set_private_umask()  # before the store and the keys make their files
        await store.open()
        try:  # a refused start-up leaves no connection behind
            async with httpx.AsyncClient(
                timeout=10.0, headers={"User-Agent": f"sote-broker/{__version__}"}
            ) as http:
                broker = await assemble(settings, clock, metrics, store, untimed_store, http)
                app.state.broker = broker.context
                app.state.idp_reloader = broker.reloader
                async with broker.running():
                    log.info("sote-broker %s ready at %s", __version__, settings.issuer)
                    yield
        finally:
            await store.close()

    return Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
            Middleware(UnexpectedErrorMiddleware),
            Middleware(IdPReloadMiddleware),
            Middleware(RateLimitMiddleware),
            Middleware(
                BodyLimitMiddleware,
                limit=settings.limits.max_body_bytes,
                by_path={paths.SAML_ACS: settings.limits.max_saml_post_bytes},
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
