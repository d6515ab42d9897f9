"""Unit-test fixtures for the OpenID Provider: a real SQLite store in tmp_path, a frozen clock and
portals registered straight in the store. No HTTP: each rule is called where it is written, so a
broken rule fails in milliseconds (and a mutant dies in one; docs/mutation.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from broker.clock import FrozenClock
from broker.frontend.oidc import secrets
from broker.frontend.oidc.keys import KeyRing
from broker.store.base import Store
from broker.store.records import ClientRecord
from broker.store.sqlite import SQLiteStore

T0 = 1_700_000_000.0
ISSUER = "https://broker.example.fi"
REDIRECT = "https://portal.example.fi/callback"
LOGGED_OUT = "https://portal.example.fi/logged-out"
SECRET = "s3cret-of-the-portal-that-is-long-enough-0123456789"

AddClient = Callable[..., Awaitable[ClientRecord]]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SQLiteStore(tmp_path / "broker.db")
    await s.open()
    yield s
    await s.close()


def client_record(client_id: str = "portal", **fields: Any) -> ClientRecord:
    """A confidential portal (client_secret_basic with SECRET) unless `fields` say otherwise."""
    method = fields.get("token_endpoint_auth_method", "client_secret_basic")
    values: dict[str, Any] = {
        "client_id": client_id,
        "client_name": f"Portal {client_id}",
        "redirect_uris": (REDIRECT,),
        "post_logout_redirect_uris": (LOGGED_OUT,),
        "token_endpoint_auth_method": method,
        "secret_hash": secrets.hash_secret(SECRET) if method.startswith("client_secret") else None,
        "created_at": T0,
    }
    return ClientRecord(**(values | fields))


@pytest.fixture
def add_client(store: Store) -> AddClient:
    async def add(client_id: str = "portal", **fields: Any) -> ClientRecord:
        record = client_record(client_id, **fields)
        await store.clients.put(record)
        return record

    return add


@pytest.fixture(scope="session")
def key_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signing keys made once per run (RSA generation is slow), active long before T0."""
    directory = tmp_path_factory.mktemp("oidc-unit-keys") / "keys"
    KeyRing(directory, FrozenClock(T0 - 3600), publish_lead=0).ensure(["RS256", "ES256"])
    return directory


@pytest.fixture
def keys(key_source: Path, clock: FrozenClock) -> KeyRing:
    ring = KeyRing(key_source, clock, publish_lead=0)
    ring.load()
    return ring
