"""What happened behind each error id shown to a person, for the helpdesk (`sote-broker errors
show`): when, where (the path, never the query), the error's class and message id, and the
portal and IdP when known. Never the error's free-text detail, which may quote what someone
typed or sent. Kept until `audit.error_retention_days` pass."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Protocol

from broker.store.connection import Connection

__all__ = ["ErrorEvent", "ErrorEventStore", "SQLErrorEvents"]


@dataclass(frozen=True)
class ErrorEvent:
    error_id: str
    at: float
    path: str
    status: int
    error: str
    """The exception's class name (`UpstreamResponseError`)."""
    message_id: str
    """What the page told the person (`error.upstream_response`)."""
    client_id: str | None = None
    idp_id: str | None = None
    request_id: str | None = None
    login_ref: str | None = None


_COLUMNS = ", ".join(f.name for f in fields(ErrorEvent))


class ErrorEventStore(Protocol):
    async def add(self, event: ErrorEvent) -> None: ...

    async def find(self, error_id: str) -> list[ErrorEvent]:
        """The events of that id, newest first (ids are short and random: rarely more than
        one)."""

    async def purge(self, before: float) -> int:
        """Delete the events older than `before`; how many went."""


class SQLErrorEvents:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def add(self, event: ErrorEvent) -> None:
        marks = ", ".join("?" * len(fields(ErrorEvent)))
        await self._db.run(
            f"INSERT INTO error_events ({_COLUMNS}) VALUES ({marks})",  # noqa: S608 - our names
            astuple(event),
        )

    async def find(self, error_id: str) -> list[ErrorEvent]:
        rows = await self._db.all(
            f"SELECT {_COLUMNS} FROM error_events WHERE error_id = ? "  # noqa: S608 - our names
            "ORDER BY at DESC, event_id DESC",
            (error_id,),
        )
        return [ErrorEvent(**row) for row in rows]

    async def purge(self, before: float) -> int:
        return await self._db.run("DELETE FROM error_events WHERE at < ?", (before,))
