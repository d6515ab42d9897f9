"""Everything built from the upstream IdP files, as one IdP set (`broker.journey.idp_set`): at
start-up and at each reload, by the one builder that knows what depends on them."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from broker.assembly.saml import start_saml_service, upstream_logouts
from broker.clock import Clock
from broker.errors import ConfigError
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.idp_set import CurrentIdPs, IdPSet
from broker.journey.upstreams import Connector, SAMLContext
from broker.metrics import Metrics
from broker.metrics.connectors import metered_connectors
from broker.notices.board import NoticeBoard
from broker.notices.probes import ProbeNotices
from broker.notices.watcher import IdPWatcher, watch_connectors
from broker.settings import Settings
from broker.store.base import Store
from broker.ui import Renderer
from broker.upstream.oidc import OIDCConnector
from broker.upstream.probe import IdPProber, ProbeResult
from broker.upstream.registry import Registry
from broker.upstream.saml.connector import SAMLConnector


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


def build_connectors(
    registry: Registry,
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    clock_skew: int,
    saml: SAMLContext | None = None,
    https_only: bool = False,
) -> dict[str, Connector]:
    """Resolve every enabled OIDC IdP's secret now, so a missing one stops start-up, not a
    login. SAML IdPs need the broker's service-provider context."""
    connectors: dict[str, Connector] = {}
    for idp in registry.idps():
        if idp.oidc is not None:
            secret = idp.oidc.client_secret.resolve()
            connectors[idp.id] = OIDCConnector(
                idp,
                http,
                clock,
                client_secret=secret,
                clock_skew=clock_skew,
                https_only=https_only,
            )
        elif idp.saml is not None:
            if saml is None:
                raise ConfigError(f"{idp.id}.yaml: a SAML IdP needs the SAML service provider")
            connectors[idp.id] = SAMLConnector(
                idp,
                saml.sp,
                clock,
                acs_url=saml.acs_url,
                remember_assertion=saml.remember_assertion,
                clock_skew=clock_skew,
                http=http,
                require_encrypted_assertions=idp.saml.want_assertions_encrypted,
            )
    return connectors


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
