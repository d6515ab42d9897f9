"""create_app(settings) -> Starlette: routes, middleware, lifespan; nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from broker import __version__
from broker.accounts.catalogue import load_catalogue
from broker.accounts.email_codes import CODE_TTL, EmailCodes
from broker.accounts.link_notice import LinkNotices
from broker.accounts.mail import SMTPMailSender
from broker.accounts.service import Accounts
from broker.clock import Clock, SystemClock
from broker.errors import ConfigError
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.provider import OIDCProvider
from broker.health import PROBE_CLIENT_ID, Readiness, idp_usability
from broker.housekeeping import Housekeeping
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
from broker.http.context import BrokerContext
from broker.http.cookies import CookieSigner
from broker.http.errors import EXCEPTION_HANDLERS, UnexpectedErrorMiddleware
from broker.http.middleware import AccessLogMiddleware, SecurityHeadersMiddleware
from broker.http.rate_limit import RateLimitMiddleware
from broker.instance_secrets import open_secrets
from broker.journey.audit_trail import AuditTrail
from broker.journey.flow import ACS_PATH, LoginJourney
from broker.journey.registration import AccountStage
from broker.journey.saml_service import (
    metadata_refreshers,
    start_saml_service,
    upstream_logouts,
)
from broker.journey.steps import JourneyMap
from broker.journey.transactions import LoginTransactions
from broker.journey.upstreams import Connector, build_connectors
from broker.metrics import Metrics
from broker.metrics.connectors import metered_connectors
from broker.metrics.rate_limits import MeteredRateLimiter
from broker.metrics.store_timing import timed_store
from broker.notices.board import NoticeBoard
from broker.notices.watcher import IdPWatcher, watch_connectors
from broker.rate_limits import RateLimiter
from broker.secret_files import set_private_umask
from broker.settings import Settings
from broker.store.base import Store
from broker.store.postgres import PostgresStore
from broker.store.sqlite import SQLiteStore
from broker.ui import Renderer
from broker.upstream.registry import Registry, empty_registry, load_registry

log = logging.getLogger(__name__)


def open_keyring(settings: Settings, clock: Clock) -> KeyRing:
    """The signing keys; created on first start, refused in production if any is a test key."""
    tokens = settings.tokens
    keys = KeyRing(
        settings.keys.directory,
        clock,
        publish_lead=settings.keys.publish_lead_seconds,
        retention=max(tokens.id_token_ttl, tokens.logout_token_ttl) + tokens.clock_skew,
    )
    keys.ensure(settings.keys.algorithms)
    if settings.mode == "production" and keys.has_test_keys():
        raise ConfigError(f"{settings.keys.directory}: test keys are refused in production mode")
    return keys


def make_store(settings: Settings, *, migrate: bool | None = None) -> Store:
    """The configured backend. PostgreSQL applies migrations on open only in development (or
    when `migrate` says so: `sote-broker migrate`); in production it refuses a database whose
    schema is behind. SQLite, the broker's own file, always migrates on open."""
    config = settings.store
    if config.backend == "postgresql":
        return PostgresStore(
            config.read_dsn(),
            migrate=settings.development if migrate is None else migrate,
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            timeout=config.timeout_seconds,
        )
    return SQLiteStore(config.sqlite_path)


def load_idps(settings: Settings) -> Registry:
    if settings.idp_configs is None:
        return empty_registry()
    return load_registry(settings.idp_configs, development=settings.development)


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    metrics = Metrics()
    raw_store = make_store(settings)
    store = timed_store(raw_store, metrics.store_seconds)
    registry = load_idps(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        set_private_umask()  # before the store and the keys make their files
        await store.open()
        try:
            keys = open_keyring(settings, clock)
            secrets = await open_secrets(settings, store)
        except BaseException:  # start-up refused: leave no connection behind
            await store.close()
            raise
        cookies = CookieSigner(secrets.cookie_keys, secure=settings.secure_cookies)
        async with httpx.AsyncClient(
            timeout=10.0, headers={"User-Agent": f"sote-broker/{__version__}"}
        ) as http:
            subject_key = secrets.subject_key
            provider = OIDCProvider(settings, store, keys, clock, http, subject_key=subject_key)
            transactions = LoginTransactions(store, clock, settings.tokens.transaction_ttl)
            saml = await start_saml_service(settings, registry, store)
            connectors = build_connectors(
                registry,
                http,
                clock,
                clock_skew=settings.tokens.clock_skew,
                saml=saml.context if saml else None,
                https_only=not settings.development,
            )
            renderer = Renderer(branding=settings.branding)
            limiter = MeteredRateLimiter(store, clock, subject_key, metrics)
            accounts = await account_stage(
                settings, store, clock, renderer, limiter, subject_key, registry
            )
            board = NoticeBoard(
                store.notices,
                clock,
                configured=settings.notices.configured,
                cache_seconds=settings.notices.cache_seconds,
            )
            audit = AuditTrail(store, clock, registry)
            journey = LoginJourney(
                provider,
                transactions,
                JourneyMap(registry),
                watched(
                    metered_connectors(connectors, registry, metrics),
                    settings,
                    store,
                    board,
                    clock,
                    renderer,
                    registry,
                ),
                accounts,
                audit,
                subject_key=subject_key,
                notices=board,
            )
            logouts = upstream_logouts(settings, saml, provider, connectors, http, clock)
            app.state.broker = BrokerContext(
                settings,
                provider,
                journey,
                cookies,
                renderer,
                logouts,
                limiter,
                metrics,
                readiness(settings, raw_store, keys, connectors, metrics),
                audit,
                saml,
            )
            tasks = [
                asyncio.create_task(provider.backchannel.run(), name="backchannel-logout"),
                asyncio.create_task(
                    Housekeeping(store, keys, saml, accounts, audit, clock, settings).run(),
                    name="housekeeping",
                ),
                *(
                    asyncio.create_task(refresher, name="saml-metadata")
                    for refresher in metadata_refreshers(settings, connectors)
                ),
            ]
            log.info("sote-broker %s ready at %s", __version__, settings.issuer)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await store.close()

    routes: list[BaseRoute] = [
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
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
            Middleware(UnexpectedErrorMiddleware),
            Middleware(RateLimitMiddleware),
            Middleware(
                BodyLimitMiddleware,
                limit=settings.limits.max_body_bytes,
                by_path={ACS_PATH: settings.limits.max_saml_post_bytes},
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


def readiness(
    settings: Settings,
    store: Store,
    keys: KeyRing,
    connectors: Mapping[str, Connector],
    metrics: Metrics,
) -> Readiness:
    """/health/ready's checks; each IdP's usability is also the gauge sote_broker_idp_usable.
    `store` is the untimed one: probes do not count in the store's latency."""
    usability = idp_usability(connectors)
    for idp_id, usable in usability.items():
        metrics.idp_usable.labels(idp_id).set_function(_as_number(usable))
    return Readiness(
        functools.partial(store.clients.get, PROBE_CLIENT_ID),
        keys,
        settings.keys.algorithms,
        usability,
        idps_decide=settings.health.idps_decide_readiness,
    )


def _as_number(usable: Callable[[], bool]) -> Callable[[], float]:
    return lambda: float(usable())


async def account_stage(
    settings: Settings,
    store: Store,
    clock: Clock,
    renderer: Renderer,
    limiter: RateLimiter,
    key: bytes,
    registry: Registry,
) -> AccountStage:
    """Accounts, the e-mail codes (a bounded number to one address) and link notices (over
    SMTP, in the person's language) and the catalogue of partner organisations (seeded from the
    bundled one on first start)."""

    def compose(code: str, language: str) -> tuple[str, str]:
        minutes = int(CODE_TTL // 60)
        return (
            renderer.text(language, "mail.code.subject", code=code),
            renderer.text(language, "mail.code.body", code=code, minutes=minutes),
        )

    def compose_linked(idp_id: str, language: str, when: str) -> tuple[str, str]:
        idp = registry.idp(idp_id)
        route = idp.names.get(language) if idp is not None else idp_id
        return (
            renderer.text(language, "mail.linked.subject"),
            renderer.text(language, "mail.linked.body", route=route, when=when),
        )

    async def throttle(email: str) -> None:
        await limiter.hit("email_code_address", email, settings.limits.email_codes_per_address)

    sender = SMTPMailSender(settings.smtp)
    codes = EmailCodes(store.accounts, sender, compose, clock, key, throttle=throttle)
    notices = LinkNotices(sender, compose_linked)
    catalogue = await load_catalogue(store.accounts, clock.now())
    return AccountStage(Accounts(store.accounts, clock, notices), codes, catalogue)


def watched(
    connectors: dict[str, Connector],
    settings: Settings,
    store: Store,
    board: NoticeBoard,
    clock: Clock,
    renderer: Renderer,
    registry: Registry,
) -> dict[str, Connector]:
    """The journey's connectors, counted by the IdP watcher (unless it is turned off); its
    automatic notice names the organisation in each language."""
    if not settings.notices.watch.enabled:
        return connectors

    def texts(idp_id: str) -> dict[str, str]:
        idp = registry.idp(idp_id)
        return {
            lang: renderer.text(
                lang, "notice.automatic", name=idp.names.get(lang) if idp else idp_id
            )
            for lang in ("fi", "sv", "en")
        }

    watcher = IdPWatcher(
        store.idp_outcomes, store.notices, board, clock, settings.notices.watch, texts
    )
    return watch_connectors(connectors, watcher)
