"""Portals registered with the broker (OAuth clients): one JSON body each, so a new client
setting needs no migration (a body written before it loads with the setting's default)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

from broker.store.columns import dump, load
from broker.store.connection import Connection
from broker.store.records import ClientRecord

__all__ = ["ClientStore", "SQLClients"]


class ClientStore(Protocol):
    async def put(self, client: ClientRecord) -> None:
        """Insert or replace a client."""

    async def get(self, client_id: str) -> ClientRecord | None: ...

    async def all(self) -> list[ClientRecord]: ...

    async def delete(self, client_id: str, now: float) -> bool:
        """Delete the client and, in the same transaction, revoke its grants (so its tokens
        die with it and a client later registered under the same id inherits none)."""


class SQLClients:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def put(self, client: ClientRecord) -> None:
        await self._db.run(
            "INSERT INTO clients (client_id, body, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET body = excluded.body",
            (client.client_id, dump(asdict(client)), client.created_at),
        )

    async def get(self, client_id: str) -> ClientRecord | None:
        row = await self._db.one("SELECT body FROM clients WHERE client_id = ?", (client_id,))
        return None if row is None else _client(row["body"])

    async def all(self) -> list[ClientRecord]:
        rows = await self._db.all("SELECT body FROM clients ORDER BY client_id")
        return [_client(row["body"]) for row in rows]

    async def delete(self, client_id: str, now: float) -> bool:
        async with self._db.transaction() as db:
            await db.run(
                "UPDATE grants SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                (now, client_id),
            )
            return await db.run("DELETE FROM clients WHERE client_id = ?", (client_id,)) > 0


_TUPLES = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_scopes",
    "grant_types",
    "routes",
    "idps",
)


def _client(body: str) -> ClientRecord:
    data = load(body)
    for key in _TUPLES:
        if key in data:
            data[key] = tuple(data[key])
    return ClientRecord(**data)
