"""create_app(settings) -> Starlette: routes, middleware, lifespan; nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable

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
from broker.http.idp_reload import IdPReloadMiddleware
from broker.http.middleware import AccessLogMiddleware, SecurityHeadersMiddleware
from broker.http.rate_limit import RateLimitMiddleware
from broker.idp_reload import IdPReloader
from broker.instance_secrets import open_secrets
from broker.journey.audit_trail import AuditTrail
from broker.journey.flow import ACS_PATH, LoginJourney
from broker.journey.idp_set import CurrentIdPs, IdPSet
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
from broker.notices.probes import ProbeNotices
from broker.notices.watcher import IdPWatcher, watch_connectors
from broker.rate_limits import RateLimiter
from broker.secret_files import set_private_umask
from broker.settings import Settings
from broker.store.base import Store
from broker.store.postgres import PostgresStore
from broker.store.sqlite import SQLiteStore
from broker.ui import Renderer
from broker.upstream.probe import IdPProber, ProbeResult
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
            renderer = Renderer(branding=settings.branding)
            limiter = MeteredRateLimiter(store, clock, subject_key, metrics)
            board = NoticeBoard(
                store.notices,
                clock,
                configured=settings.notices.configured,
                cache_seconds=settings.notices.cache_seconds,
            )
            build = IdPSetBuilder(settings, store, http, clock, metrics, board, renderer, provider)
            idps = CurrentIdPs(await build(registry))
            accounts = await account_stage(
                settings, store, clock, renderer, limiter, subject_key, lambda: idps.registry
            )
            audit = AuditTrail(store, clock, lambda: idps.registry)
            journey = LoginJourney(
                provider,
                transactions,
                JourneyMap(lambda: idps.registry),
                idps.journey_connectors(),
                accounts,
                audit,
                subject_key=subject_key,
                notices=board,
            )
            app.state.broker = BrokerContext(
                settings,
                provider,
                journey,
                cookies,
                renderer,
                limiter,
                metrics,
                readiness(settings, raw_store, keys, idps, metrics),
                audit,
                idps,
            )
            reloader = IdPReloader(
                idps,
                functools.partial(load_idps, settings),
                build,
                lambda idp_set: metadata_refreshers(settings, idp_set.connectors),
                store.idp_reloads,
                clock,
                check_seconds=settings.idps.reload_check_seconds,
                on_install=functools.partial(_label_idps, metrics),
            )
            app.state.idp_reloader = reloader
            await reloader.start()
            reloader.listen_for_sighup()
            tasks = [
                asyncio.create_task(provider.backchannel.run(), name="backchannel-logout"),
                asyncio.create_task(
                    Housekeeping(
                        store, keys, lambda: idps.current.saml, accounts, audit, clock, settings
                    ).run(),
                    name="housekeeping",
                ),
            ]
            if settings.idps.probe.enabled:
                probes = probe_notices(settings, store, http, clock, board, renderer, idps, metrics)
                tasks.append(asyncio.create_task(probes.run(), name="idp-probes"))
            log.info("sote-broker %s ready at %s", __version__, settings.issuer)
            try:
                yield
            finally:
                reloader.forget_sighup()
                await reloader.stop()
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
            Middleware(IdPReloadMiddleware),
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
    idps: CurrentIdPs,
    metrics: Metrics,
) -> Readiness:
    """/health/ready's checks, over the current IdP set; each IdP's usability is also the
    gauge sote_broker_idp_usable. `store` is the untimed one: probes do not count in the store's
    latency."""
    _label_idps(metrics, None, idps.current)
    return Readiness(
        functools.partial(store.clients.get, PROBE_CLIENT_ID),
        keys,
        settings.keys.algorithms,
        lambda: idp_usability(idps.current.connectors),
        idps_decide=settings.health.idps_decide_readiness,
    )


def _label_idps(metrics: Metrics, old: IdPSet | None, new: IdPSet) -> None:
    """The usability gauge of each IdP of the new set; an IdP a reload removed goes."""
    usability = idp_usability(new.connectors)
    for idp_id in set(old.connectors if old else ()) - set(usability):
        metrics.idp_usable.remove(idp_id)
    for idp_id, usable in usability.items():
        metrics.idp_usable.labels(idp_id).set_function(_as_number(usable))


class IdPSetBuilder:
    """Builds an IdP set (`broker.journey.idp_set`) on a registry: at start-up and at each
    reload, the one function that knows what depends on the IdP files."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: httpx.AsyncClient,
        clock: Clock,
        metrics: Metrics,
        board: NoticeBoard,
        renderer: Renderer,
        provider: OIDCProvider,
    ) -> None:
        self._settings, self._store, self._http, self._clock = settings, store, http, clock
        self._metrics, self._board, self._renderer = metrics, board, renderer
        self._provider = provider

    async def __call__(self, registry: Registry) -> IdPSet:
        """A missing OIDC secret or an unusable SAML SP key raises ConfigError."""
        settings, http, clock = self._settings, self._http, self._clock
        saml = await start_saml_service(settings, registry, self._store)
        connectors = build_connectors(
            registry,
            http,
            clock,
            clock_skew=settings.tokens.clock_skew,
            saml=saml.context if saml else None,
            https_only=not settings.development,
        )
        journey_connectors = watched(
            metered_connectors(connectors, registry, self._metrics),
            settings,
            self._store,
            self._board,
            clock,
            self._renderer,
            registry,
            self._metrics,
        )
        logouts = upstream_logouts(settings, saml, self._provider, connectors, http, clock)
        return IdPSet(registry, connectors, journey_connectors, saml, logouts)


def _as_number(usable: Callable[[], bool]) -> Callable[[], float]:
    return lambda: float(usable())


async def account_stage(
    settings: Settings,
    store: Store,
    clock: Clock,
    renderer: Renderer,
    limiter: RateLimiter,
    key: bytes,
    registry: Callable[[], Registry],
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
        idp = registry().idp(idp_id)
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
    metrics: Metrics,
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
        store.idp_outcomes,
        store.notices,
        board,
        clock,
        settings.notices.watch,
        texts,
        on_change=disturbed_gauge(metrics, "watcher"),
    )
    return watch_connectors(connectors, watcher)


def disturbed_gauge(metrics: Metrics, source: str) -> Callable[[str, bool], None]:
    """The `on_change` hook of an automatic notice: sote_broker_idp_disturbed 1 or 0."""

    def changed(idp_id: str, disturbed: bool) -> None:
        metrics.idp_disturbed.labels(idp_id, source).set(1.0 if disturbed else 0.0)

    return changed


def probe_notices(
    settings: Settings,
    store: Store,
    http: httpx.AsyncClient,
    clock: Clock,
    board: NoticeBoard,
    renderer: Renderer,
    idps: CurrentIdPs,
    metrics: Metrics,
) -> ProbeNotices:
    """The background probe of every IdP of the current set, raising automatic notices: the
    watcher's text when an IdP is unreachable or broken, another when it expires soon."""
    probe = settings.idps.probe
    prober = IdPProber(
        http,
        clock,
        warn_seconds=probe.expiry_warning_days * 86400,
        crypto_backend=settings.saml_sp.crypto_backend,
        clock_skew=settings.tokens.clock_skew,
    )

    def texts(idp_id: str, result: ProbeResult) -> dict[str, str]:
        idp = idps.registry.idp(idp_id)
        key = "notice.automatic" if result.status == "error" else "notice.idp_expiring"
        return {
            lang: renderer.text(lang, key, name=idp.names.get(lang) if idp else idp_id)
            for lang in ("fi", "sv", "en")
        }

    return ProbeNotices(
        prober,
        lambda: idps.registry.idps(),
        store.leases,
        store.notices,
        board,
        clock,
        probe,
        texts,
        on_change=disturbed_gauge(metrics, "probe"),
    )
