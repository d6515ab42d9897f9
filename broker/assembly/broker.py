"""The whole broker put together for one process: `assemble` builds every component the web
app serves from, and `Assembled.running` runs its background work (IdP reloads, back-channel
logout, housekeeping, IdP probes) for as long as the app serves."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from broker.assembly.accounts import account_stage
from broker.assembly.idps import IdPSetBuilder, probe_notices
from broker.assembly.saml import metadata_refreshers
from broker.assembly.store import load_idps, open_keyring
from broker.clock import Clock
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.provider import OIDCProvider
from broker.health import PROBE_CLIENT_ID, Readiness, idp_usability
from broker.housekeeping import Housekeeping
from broker.http.context import BrokerContext
from broker.http.cookies import CookieSigner
from broker.idp_reload import IdPReloader
from broker.instance_secrets import open_secrets
from broker.journey.account_page import AccountPage
from broker.journey.audit_trail import AuditTrail
from broker.journey.flow import LoginJourney
from broker.journey.idp_set import CurrentIdPs, IdPSet
from broker.journey.logout import RPLogout
from broker.journey.registration import AccountStage
from broker.journey.steps import JourneyMap
from broker.journey.transactions import LoginTransactions
from broker.metrics import Metrics
from broker.metrics.rate_limits import MeteredRateLimiter
from broker.notices.board import NoticeBoard
from broker.settings import Settings
from broker.store.base import Store
from broker.ui import Renderer


@dataclass
class Assembled:
    """One process's broker: what the routes read (`context`) and what runs beside them."""

    settings: Settings
    context: BrokerContext
    reloader: IdPReloader
    idps: CurrentIdPs
    store: Store
    keys: KeyRing
    accounts: AccountStage
    audit: AuditTrail
    background: list[Callable[[], asyncio.Task[None]]]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The background work, started now and stopped (cancelled, awaited) on exit."""
        await self.reloader.start()
        self.reloader.listen_for_sighup()
        tasks = [start() for start in self.background]
        try:
            yield
        finally:
            self.reloader.forget_sighup()
            await self.reloader.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def assemble(
    settings: Settings,
    clock: Clock,
    metrics: Metrics,
    store: Store,
    untimed_store: Store,
    http: httpx.AsyncClient,
) -> Assembled:
    """Everything on an open store. Raises ConfigError (start-up refused) for test keys in
    production, a missing secret or an unusable SAML key; builds nothing half."""
    keys = open_keyring(settings, clock)
    secrets = await open_secrets(settings, store)
    cookies = CookieSigner(secrets.cookie_keys, secure=settings.secure_cookies)
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
    idps = CurrentIdPs(await build(load_idps(settings)))
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
    context = BrokerContext(
        settings,
        provider,
        journey,
        cookies,
        renderer,
        limiter,
        metrics,
        readiness(settings, untimed_store, keys, idps, metrics),
        audit,
        idps,
        AccountPage(provider, accounts, lambda: idps.registry, settings.accounts),
        RPLogout(provider, lambda: idps.current.logouts),
        journey.registration,
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
    housekeeping = Housekeeping(
        store, keys, lambda: idps.current.saml, accounts, audit, clock, settings
    )
    background: list[Callable[[], asyncio.Task[None]]] = [
        lambda: asyncio.create_task(provider.backchannel.run(), name="backchannel-logout"),
        lambda: asyncio.create_task(housekeeping.run(), name="housekeeping"),
    ]
    if settings.idps.probe.enabled:
        probes = probe_notices(settings, store, http, clock, board, renderer, idps, metrics)
        background.append(lambda: asyncio.create_task(probes.run(), name="idp-probes"))
    return Assembled(settings, context, reloader, idps, store, keys, accounts, audit, background)


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


def _as_number(usable: Callable[[], bool]) -> Callable[[], float]:
    return lambda: float(usable())
