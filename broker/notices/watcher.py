"""The IdP watcher: an automatic notice on an organisation whose logins keep failing.

Every upstream connector is wrapped (`watch_connectors`): an IdP that cannot be reached, times
out, answers garbage (UpstreamUnavailableError: its discovery or metadata too) or answers
something that fails a check (UpstreamResponseError) counts a failure; a verified answer counts a
success. A person who cancels at the IdP (UpstreamDeniedError) counts nothing.

The counts live in the store in short buckets (`store.idp_outcomes`), so the window is the same
for every replica: a process-local count would need the threshold of failures on one replica,
and with logins spread over N replicas an IdP could fail N times as often before anyone said so.
After each outcome the window is summed; at `min_failures` failures that are at least
`failure_ratio` of the logins, the organisation gets the notice "auto:<idp>" (raised by exactly
one process: `NoticeStore.raise_once`) and operators a WARNING log line; a success that finds the
window below the threshold ends it, with an INFO line. `on_change` is the hook for a metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from broker.claims.identity import RawIdentity
from broker.clock import Clock
from broker.errors import StoreError, UpstreamResponseError, UpstreamUnavailableError
from broker.journey.upstreams import Connector
from broker.notices.board import NoticeBoard
from broker.notices.settings import WatchSettings
from broker.store.idp_outcomes import IdPOutcomeStore
from broker.store.notices import NoticeRecord, NoticeStore
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.saved_login import UpstreamRedirect

log = logging.getLogger(__name__)

BUCKETS_PER_WINDOW = 10
AUTOMATIC_PREFIX = "auto:"


class IdPWatcher:
    def __init__(
        self,
        outcomes: IdPOutcomeStore,
        notices: NoticeStore,
        board: NoticeBoard,
        clock: Clock,
        settings: WatchSettings,
        texts: Callable[[str], dict[str, str]],
        on_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        """`texts(idp_id)`: the automatic notice in every language, naming the organisation;
        `on_change(idp_id, disturbed)`: called where the notice is raised or ended."""
        self._outcomes = outcomes
        self._notices = notices
        self._board = board
        self._clock = clock
        self._settings = settings
        self._texts = texts
        self._on_change = on_change
        self._bucket_seconds = max(1, settings.window_seconds // BUCKETS_PER_WINDOW)

    async def record(self, idp_id: str, *, failed: bool) -> None:
        """Count one outcome and raise or end the notice; never fails the login it watches."""
        try:
            await self._record(idp_id, failed)
        except StoreError:
            log.exception("IdP watcher could not count a login", extra={"idp": idp_id})

    async def _record(self, idp_id: str, failed: bool) -> None:
        now = self._clock.now()
        size = self._bucket_seconds
        bucket = int(now // size)
        expires = (bucket + 1) * size + self._settings.window_seconds
        await self._outcomes.count(idp_id, bucket, failed=failed, expires_at=expires)
        since = bucket - self._settings.window_seconds // size + 1
        failures, successes = await self._outcomes.totals(idp_id, since)
        disturbed = failures >= self._settings.min_failures and failures >= (
            self._settings.failure_ratio * (failures + successes)
        )
        if failed and disturbed:
            await self._raise(idp_id, now, failures, successes)
        elif not failed and not disturbed:
            await self._clear(idp_id, now)

    async def _raise(self, idp_id: str, now: float, failures: int, successes: int) -> None:
        notice = NoticeRecord.automatic(
            AUTOMATIC_PREFIX + idp_id, idp_id, "severe", self._texts(idp_id), now
        )
        if await self._notices.raise_once(notice):
            self._board.forget()
            log.warning(
                "IdP %s disturbed: %d failed and %d successful logins in %d s; automatic "
                "notice raised",
                idp_id,
                failures,
                successes,
                self._settings.window_seconds,
                extra={"idp": idp_id},
            )
            self._changed(idp_id, True)

    async def _clear(self, idp_id: str, now: float) -> None:
        if await self._notices.end(AUTOMATIC_PREFIX + idp_id, now):
            self._board.forget()
            log.info("IdP %s recovered; automatic notice ended", idp_id, extra={"idp": idp_id})
            self._changed(idp_id, False)

    def _changed(self, idp_id: str, disturbed: bool) -> None:
        if self._on_change is not None:
            self._on_change(idp_id, disturbed)


class WatchedConnector:
    """A connector whose outcomes the watcher counts; otherwise the connector it wraps."""

    def __init__(self, inner: Connector, idp_id: str, watcher: IdPWatcher) -> None:
        self._inner = inner
        self._idp_id = idp_id
        self._watcher = watcher

    async def start(self, login: UpstreamLogin) -> UpstreamRedirect:
        """Discovery or metadata that cannot be fetched fails here, before the IdP is visited."""
        try:
            return await self._inner.start(login)
        except UpstreamUnavailableError:
            await self._watcher.record(self._idp_id, failed=True)
            raise

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity:
        try:
            raw = await self._inner.finish(params, saved)
        except (UpstreamUnavailableError, UpstreamResponseError):
            await self._watcher.record(self._idp_id, failed=True)
            raise
        await self._watcher.record(self._idp_id, failed=False)
        return raw


def watch_connectors(
    connectors: Mapping[str, Connector], watcher: IdPWatcher
) -> dict[str, Connector]:
    return {idp_id: WatchedConnector(c, idp_id, watcher) for idp_id, c in connectors.items()}
