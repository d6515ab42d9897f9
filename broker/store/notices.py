"""Disruption notices: what operators set (`sote-broker notices add`) and what the IdP watcher
raises, read by every broker process and replica from here (each caches them a few seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from broker.store.columns import dump, load
from broker.store.connection import Connection, Row

__all__ = ["NoticeRecord", "NoticeStore", "SQLNotices", "Scope", "Severity"]

Scope: TypeAlias = Literal["service", "route", "organisation"]
Severity: TypeAlias = Literal["info", "severe"]


@dataclass(frozen=True)
class NoticeRecord:
    """One notice. `target` is the route or organisation (IdP) id, "" for the whole service;
    `offline`: the route or organisation is not offered while the notice is current;
    `source`: operator, config (settings file, never stored) or automatic (the IdP watcher)."""

    notice_id: str
    scope: Scope
    target: str
    severity: Severity
    texts: dict[str, str]
    starts_at: float
    ends_at: float | None = None
    offline: bool = False
    source: Literal["operator", "config", "automatic"] = "operator"
    created_at: float = field(default=0.0, compare=False)

    @classmethod
    def automatic(
        cls, notice_id: str, idp_id: str, severity: Severity, texts: dict[str, str], now: float
    ) -> NoticeRecord:
        """A notice the broker raises on one organisation itself (the IdP watcher, the probes),
        current from now until it ends it."""
        return cls(
            notice_id=notice_id,
            scope="organisation",
            target=idp_id,
            severity=severity,
            texts=texts,
            starts_at=now,
            source="automatic",
            created_at=now,
        )

    def is_current(self, now: float) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)


class NoticeStore(Protocol):
    async def put(self, notice: NoticeRecord) -> None:
        """Insert or replace a notice."""

    async def get(self, notice_id: str) -> NoticeRecord | None: ...

    async def active(self, now: float) -> list[NoticeRecord]:
        """Notices not ended at `now`: current ones and those scheduled to start later."""

    async def all(self) -> list[NoticeRecord]:
        """Every notice kept, ended ones too, newest first."""

    async def end(self, notice_id: str, now: float) -> bool:
        """End a notice not yet ended (its end time becomes `now`); False if there was none."""

    async def raise_once(self, notice: NoticeRecord) -> bool:
        """Put `notice` unless a notice of its id is already in force: one atomic statement,
        so of several replicas raising the same automatic notice exactly one gets True."""


_COLUMNS = (
    "notice_id, scope, target, severity, offline, texts, source, starts_at, ends_at, created_at"
)


class SQLNotices:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def put(self, notice: NoticeRecord) -> None:
        await self._db.run(
            f"INSERT INTO notices ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (notice_id) DO UPDATE SET scope = excluded.scope, "
            "target = excluded.target, severity = excluded.severity, "
            "offline = excluded.offline, texts = excluded.texts, source = excluded.source, "
            "starts_at = excluded.starts_at, ends_at = excluded.ends_at",
            _params(notice),
        )

    async def get(self, notice_id: str) -> NoticeRecord | None:
        row = await self._db.one(
            f"SELECT {_COLUMNS} FROM notices WHERE notice_id = ?",  # noqa: S608
            (notice_id,),
        )
        return None if row is None else _notice(row)

    async def active(self, now: float) -> list[NoticeRecord]:
        rows = await self._db.all(
            f"SELECT {_COLUMNS} FROM notices WHERE ends_at IS NULL OR ends_at > ? "  # noqa: S608
            "ORDER BY starts_at, notice_id",
            (now,),
        )
        return [_notice(row) for row in rows]

    async def all(self) -> list[NoticeRecord]:
        rows = await self._db.all(
            f"SELECT {_COLUMNS} FROM notices ORDER BY created_at DESC, notice_id"  # noqa: S608
        )
        return [_notice(row) for row in rows]

    async def end(self, notice_id: str, now: float) -> bool:
        changed = await self._db.run(
            "UPDATE notices SET ends_at = ? WHERE notice_id = ? "
            "AND (ends_at IS NULL OR ends_at > ?)",
            (now, notice_id, now),
        )
        return changed > 0

    async def raise_once(self, notice: NoticeRecord) -> bool:
        row = await self._db.one(
            f"INSERT INTO notices ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (notice_id) DO UPDATE SET severity = excluded.severity, "
            "offline = excluded.offline, texts = excluded.texts, "
            "starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
            "created_at = excluded.created_at "
            "WHERE notices.ends_at IS NOT NULL AND notices.ends_at <= excluded.starts_at "
            "RETURNING notice_id",
            _params(notice),
        )
        return row is not None


def _params(notice: NoticeRecord) -> tuple[Any, ...]:
    return (
        notice.notice_id,
        notice.scope,
        notice.target,
        notice.severity,
        int(notice.offline),
        dump(notice.texts),
        notice.source,
        notice.starts_at,
        notice.ends_at,
        notice.created_at,
    )


def _notice(row: Row) -> NoticeRecord:
    return NoticeRecord(
        notice_id=row["notice_id"],
        scope=row["scope"],
        target=row["target"],
        severity=row["severity"],
        texts=load(row["texts"]),
        starts_at=float(row["starts_at"]),
        ends_at=None if row["ends_at"] is None else float(row["ends_at"]),
        offline=bool(row["offline"]),
        source=row["source"],
        created_at=float(row["created_at"]),
    )
