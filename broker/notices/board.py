"""The notices in force, as each process sees them: the store's (set by the CLI or raised by
the IdP watcher, shared by every process and replica) and the settings file's.

One process reads the store at most once per `cache_seconds` of the injected clock, so a notice
set anywhere shows everywhere within that time, without a restart and without a query per page.
If the store cannot be read, the notices last read stay up: a failing store must not take the
error pages down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from broker.clock import Clock
from broker.errors import StoreError, StoreUnavailableError
from broker.notices.settings import ConfiguredNotice
from broker.store.notices import NoticeRecord, NoticeStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notices:
    """The notices current at one moment, and what they mean for the choice pages."""

    items: tuple[NoticeRecord, ...] = ()

    def offline(self, scope: str, target: str) -> NoticeRecord | None:
        """The notice that takes this route or organisation offline, if any."""
        return next(
            (n for n in self.items if n.offline and n.scope == scope and n.target == target), None
        )

    def offline_idp(self, idp_id: str, routes: Iterable[str]) -> NoticeRecord | None:
        """The organisation's own offline notice, or that of a route it is reached by."""
        found = self.offline("organisation", idp_id)
        for route in routes:
            found = found or self.offline("route", route)
        return found

    def for_all(self) -> list[NoticeRecord]:
        """Every current notice, severe ones first."""
        return sorted(self.items, key=_order)

    def for_page(self, routes: Iterable[str] = (), idps: Iterable[str] = ()) -> list[NoticeRecord]:
        """The whole service's notices and those of the routes and organisations named,
        severe ones first."""
        wanted = {("service", ""), *(("route", r) for r in routes)}
        wanted |= {("organisation", i) for i in idps}
        shown = [n for n in self.items if (n.scope, n.target) in wanted]
        return sorted(shown, key=_order)


def _order(notice: NoticeRecord) -> tuple[bool, float, str]:
    return (notice.severity != "severe", notice.starts_at, notice.notice_id)


class NoticeBoard:
    def __init__(
        self,
        store: NoticeStore,
        clock: Clock,
        *,
        configured: Iterable[ConfiguredNotice] = (),
        cache_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._configured = tuple(from_settings(c) for c in configured)
        self._cache_seconds = cache_seconds
        self._read_at: float | None = None
        self._stored: list[NoticeRecord] = []

    async def current(self) -> Notices:
        now = self._clock.now()
        if self._read_at is None or not self._read_at <= now < self._read_at + self._cache_seconds:
            try:
                self._stored = await self._store.active(now)
                self._read_at = now
            except StoreUnavailableError as exc:  # an outage, not a bug: no traceback
                log.warning("notices could not be read (%s); showing the ones read before", exc)
            except StoreError:
                log.exception("notices could not be read; showing the ones read before")
        everything = (*self._stored, *self._configured)
        return Notices(tuple(n for n in everything if n.is_current(now)))

    def forget(self) -> None:
        """Read the store again on the next page (this process has just changed a notice)."""
        self._read_at = None


def from_settings(notice: ConfiguredNotice) -> NoticeRecord:
    return NoticeRecord(
        notice_id=f"config:{notice.id}",
        scope=notice.scope,
        target=notice.target,
        severity=notice.severity,
        texts=notice.texts.model_dump(),
        starts_at=notice.starts_at.timestamp() if notice.starts_at else 0.0,
        ends_at=notice.ends_at.timestamp() if notice.ends_at else None,
        offline=notice.offline,
        source="config",
    )
