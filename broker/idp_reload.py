"""Reading the upstream IdP files again without a restart, in every process and replica.

`sote-broker idps reload` validates the directory and then moves the store's reload generation
up (`store.idp_reloads`); SIGHUP asks the one process that receives it. Each process looks at
the generation at most once per `idps.reload_check_seconds` of the injected clock (one tiny read,
on the next request after that: `broker.http.idp_reload`) and, when it moved, reloads from its
own `idp_configs/` directory: the registry is loaded, a whole new IdP set is built
(`broker.journey.idp_set`) and swapped in, and the SAML metadata refreshers of the old set are
stopped and the new set's started. A directory that does not load, or a set that cannot be built
(an OIDC secret missing), is logged as an ERROR and the old set keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from broker.clock import Clock
from broker.errors import BrokerError, StoreError
from broker.journey.idp_set import CurrentIdPs, IdPSet
from broker.store.idp_reloads import IdPReloadStore
from broker.upstream.registry import Registry

__all__ = ["IdPReloader"]

log = logging.getLogger(__name__)

Refreshers = Callable[[IdPSet], list[Coroutine[Any, Any, None]]]


class IdPReloader:
    def __init__(
        self,
        holder: CurrentIdPs,
        load: Callable[[], Registry],
        build: Callable[[Registry], Awaitable[IdPSet]],
        refreshers: Refreshers,
        reloads: IdPReloadStore,
        clock: Clock,
        *,
        check_seconds: float,
        on_install: Callable[[IdPSet, IdPSet], None] = lambda old, new: None,
    ) -> None:
        """`load`: the registry from the directory (blocking; raises ConfigError); `build`:
        the IdP set on it; `refreshers`: a set's background loops; `on_install(old, new)`:
        after each swap (the metrics' IdP labels)."""
        self._holder = holder
        self._load = load
        self._build = build
        self._refreshers = refreshers
        self._reloads = reloads
        self._clock = clock
        self._check_seconds = check_seconds
        self._on_install = on_install
        self._seen = 0
        self._next_check = 0.0
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._signalled: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        """The generation as of start-up (the files were just read) and the first set's
        refreshers."""
        with contextlib.suppress(StoreError):
            self._seen = await self._reloads.generation()
        self._next_check = self._clock.now() + self._check_seconds
        self._start_refreshers(self._holder.current)

    async def stop(self) -> None:
        for task in [*self._tasks, *self._signalled]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._signalled, return_exceptions=True)

    async def check(self) -> None:
        """Reload if another process asked for it since this one last looked (at most once
        per `check_seconds`); a store that cannot answer is tried again next time."""
        now = self._clock.now()
        if now < self._next_check or self._lock.locked():
            return
        self._next_check = now + self._check_seconds
        try:
            wanted = await self._reloads.generation()
        except StoreError as exc:
            log.warning("IdP reload generation could not be read (%s)", exc)
            return
        if wanted > self._seen:
            self._seen = wanted
            await self.reload(f"generation {wanted}")

    async def reload(self, why: str) -> bool:
        """Load, build and swap in a new IdP set; False (and the old set serving) if the
        directory does not load or the set cannot be built."""
        async with self._lock:
            try:
                registry = await asyncio.to_thread(self._load)
                new = await self._build(registry)
            except BrokerError as exc:
                log.error(
                    "IdP files not reloaded (%s); the previous IdPs stay in use: %s", why, exc
                )
                return False
            old = self._holder.install(new)
            self._stop_refreshers()
            self._start_refreshers(new)
            self._on_install(old, new)
        ids = ", ".join(sorted(i.id for i in registry.idps())) or "none"
        log.info("IdP files reloaded (%s): %s", why, ids)
        return True

    def listen_for_sighup(self) -> None:
        """SIGHUP reloads this process (where the event loop can take signals: the main
        thread of `sote-broker serve`; elsewhere, e.g. a test's server thread, nothing)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (RuntimeError, ValueError, NotImplementedError):
            log.debug("SIGHUP not handled here (not the main thread)")

    def forget_sighup(self) -> None:
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    def _on_sighup(self) -> None:
        task = asyncio.create_task(self.reload("SIGHUP"), name="idp-reload")
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    def _start_refreshers(self, idps: IdPSet) -> None:
        self._tasks = [
            asyncio.create_task(loop, name="saml-metadata") for loop in self._refreshers(idps)
        ]

    def _stop_refreshers(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
