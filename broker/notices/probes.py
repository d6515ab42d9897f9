"""Automatic notices from probes: every `idps.probe.interval_seconds` one broker process (the
`idp-probes` lease, as housekeeping's) probes every IdP (`broker.upstream.probe`) and raises the
automatic notice "auto-probe:<idp>" on an organisation whose discovery or metadata is unreachable
or broken (severe: the login would fail now) or whose metadata or signing certificate expires
within `expiry_warning_days` (info: it will fail then); it changes the notice when the IdP goes
from one to the other and ends it when a probe finds the IdP well again. The IdP watcher
(`broker.notices.watcher`) raises its own notice from failing logins; the two are apart, so that
a probe that finds the metadata fine does not end a notice raised by logins failing for another
reason. `on_change(idp_id, disturbed)` is the metrics' hook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence

from broker.clock import Clock
from broker.errors import StoreUnavailableError
from broker.housekeeping import holder_id
from broker.notices.board import NoticeBoard
from broker.store.leases import LeaseStore
from broker.store.notices import NoticeRecord, NoticeStore, Severity
from broker.upstream.idp_settings import ProbeSettings
from broker.upstream.probe import IdPProber, ProbeResult
from broker.upstream.registry import IdP

__all__ = ["LEASE", "PROBE_PREFIX", "ProbeNotices"]

log = logging.getLogger(__name__)

LEASE = "idp-probes"
PROBE_PREFIX = "auto-probe:"

Texts = Callable[[str, ProbeResult], dict[str, str]]
"""The notice in every language for this IdP and what its probe found."""


class ProbeNotices:
    def __init__(
        self,
        prober: IdPProber,
        idps: Callable[[], Sequence[IdP]],
        leases: LeaseStore,
        notices: NoticeStore,
        board: NoticeBoard,
        clock: Clock,
        settings: ProbeSettings,
        texts: Texts,
        on_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        """`idps`: the IdPs of the current set (a reload changes them)."""
        self._prober, self._idps, self._leases = prober, idps, leases
        self._notices, self._board, self._clock = notices, board, clock
        self._settings, self._texts, self._on_change = settings, texts, on_change
        self.holder = holder_id()

    async def run(self) -> None:
        """Rounds until cancelled; a failed round is logged and tried again next time."""
        try:
            while True:
                try:
                    await self.round()
                except StoreUnavailableError as exc:
                    log.warning("IdP probes: %s; will retry", exc)
                except Exception:
                    log.exception("IdP probes failed; will retry")
                await asyncio.sleep(self._settings.interval_seconds)
        finally:
            try:
                await asyncio.shield(self._leases.release(LEASE, self.holder))
            except Exception:
                log.warning("IdP probe lease not released; it expires by itself")

    async def round(self) -> bool:
        """One round; whether this process held the lease and probed."""
        now = self._clock.now()
        lasts = 3 * self._settings.interval_seconds
        if not await self._leases.take(LEASE, self.holder, now, lasts):
            return False
        for result in await self._prober.probe_all(self._idps()):
            if result.status == "ok":
                await self._clear(result.idp_id)
            else:
                await self._raise(result)
        return True

    async def _raise(self, result: ProbeResult) -> None:
        now = self._clock.now()
        severity: Severity = "severe" if result.status == "error" else "info"
        notice = NoticeRecord.automatic(
            PROBE_PREFIX + result.idp_id,
            result.idp_id,
            severity,
            self._texts(result.idp_id, result),
            now,
        )
        if await self._notices.raise_once(notice):
            self._board.forget()
            log.warning(
                "IdP %s: probe %s (%s); automatic notice raised",
                result.idp_id,
                result.status,
                result.reason,
                extra={"idp": result.idp_id},
            )
            self._changed(result.idp_id, True)
            return
        held = await self._notices.get(notice.notice_id)
        if held is not None and held.severity != notice.severity:
            # from unreachable to expiring soon or back: the text and severity follow (only
            # the lease holder writes these notices, so a plain put is safe)
            await self._notices.put(dataclasses.replace(notice, starts_at=held.starts_at))
            self._board.forget()
            log.warning(
                "IdP %s: probe now %s (%s); automatic notice changed",
                result.idp_id,
                result.status,
                result.reason,
                extra={"idp": result.idp_id},
            )

    async def _clear(self, idp_id: str) -> None:
        if await self._notices.end(PROBE_PREFIX + idp_id, self._clock.now()):
            self._board.forget()
            log.info("IdP %s: probe ok; automatic notice ended", idp_id, extra={"idp": idp_id})
            self._changed(idp_id, False)

    def _changed(self, idp_id: str, disturbed: bool) -> None:
        if self._on_change is not None:
            self._on_change(idp_id, disturbed)
