"""The authentication audit trail: one row per completed or failed login (who, when known;
which portal, route, IdP and acr; a failure's reason from a closed set). It never holds an
identity code or a name, and is kept until `audit.login_retention_days` pass."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Literal, Protocol

from broker.store.connection import Connection

__all__ = ["LoginEvent", "LoginEventStore", "SQLLoginEvents"]


@dataclass(frozen=True)
class LoginEvent:
    at: float
    outcome: Literal["completed", "failed"]
    reason: str | None = None
    """Why a login failed (`broker.journey.login_audit.REASONS`); None when completed."""
    account_id: str | None = None
    client_id: str | None = None
    """The portal; None for a login to the account pages themselves."""
    route: str | None = None
    """organisation, personal, or sso (a portal answered from the broker's SSO session)."""
    idp_id: str | None = None
    acr: str | None = None
    login_ref: str | None = None
    """The login transaction's short reference, as in the log lines (never the id itself)."""
    error_id: str | None = None
    """The error id the person was shown, when the failure was a page."""


_COLUMNS = ", ".join(f.name for f in fields(LoginEvent))


class LoginEventStore(Protocol):
    async def add(self, event: LoginEvent) -> None: ...

    async def export(
        self,
        since: float | None = None,
        account_id: str | None = None,
        client_id: str | None = None,
    ) -> list[LoginEvent]:
        """The events matching every filter given, oldest first."""

    async def purge(self, before: float) -> int:
        """Delete the events older than `before`; how many went."""


class SQLLoginEvents:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def add(self, event: LoginEvent) -> None:
        marks = ", ".join("?" * len(fields(LoginEvent)))
        await self._db.run(
            f"INSERT INTO login_events ({_COLUMNS}) VALUES ({marks})",  # noqa: S608 - our names
            astuple(event),
        )

    async def export(
        self,
        since: float | None = None,
        account_id: str | None = None,
        client_id: str | None = None,
    ) -> list[LoginEvent]:
        wanted = {"at >= ?": since, "account_id = ?": account_id, "client_id = ?": client_id}
        given = {condition: value for condition, value in wanted.items() if value is not None}
        where = " AND ".join(["1 = 1", *given])
        rows = await self._db.all(
            f"SELECT {_COLUMNS} FROM login_events WHERE {where} "  # noqa: S608 - our names
            "ORDER BY at, event_id",
            tuple(given.values()),
        )
        return [LoginEvent(**row) for row in rows]

    async def purge(self, before: float) -> int:
        return await self._db.run("DELETE FROM login_events WHERE at < ?", (before,))
