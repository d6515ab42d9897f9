"""Unit-test fixtures for the OpenID Provider: a real SQLite store in tmp_path, a frozen clock and
portals registered straight in the store. No HTTP: each rule is called where it is written, so a
broken rule fails in milliseconds (and a mutant dies in one; docs/mutation.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from broker.claims.subjects import ClientSubjects
from broker.clock import FrozenClock
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.frontend.oidc.codes import CodeIssuer
from broker.frontend.oidc.issuance import TokenIssuer
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.sessions import SessionManager
from broker.frontend.oidc.token_endpoint import TokenEndpoint
from broker.settings import TokenSettings
from broker.store.base import Store
from broker.store.records import ClientRecord, SessionRecord
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


SUBJECT_KEY = b"k" * 32


@dataclass
class Parts:
    """The provider's parts over one store and clock, as `OIDCProvider` wires them."""

    store: Store
    clock: FrozenClock
    keys: KeyRing
    ttl: TokenSettings
    sessions: SessionManager
    codes: CodeIssuer
    issuer: TokenIssuer
    tokens: TokenEndpoint
    subjects: ClientSubjects

    async def session(self, **claims: Any) -> SessionRecord:
        return await self.sessions.start(
            "local-sub",
            acr="http://ftn.ficora.fi/2017/loa3",
            amr=("suomifi",),
            claims=claims or {"name": "Maija Meikäläinen", "email": "m@example.fi"},
            auth_time=T0 - 30,
        )

    async def code(
        self, request: AuthorizationRequest, session: SessionRecord | None = None
    ) -> str:
        """A fresh code for `request`, read from the redirect to the portal."""
        url = await self.codes.authorization_response(request, session or await self.session())
        return parse_qs(urlsplit(url).query)["code"][0]


@pytest.fixture
def parts(store: Store, clock: FrozenClock, keys: KeyRing) -> Parts:
    ttl = TokenSettings()
    subjects = ClientSubjects(SUBJECT_KEY)
    issuer = TokenIssuer(store, keys, clock, ISSUER, ttl)
    return Parts(
        store=store,
        clock=clock,
        keys=keys,
        ttl=ttl,
        sessions=SessionManager(store, clock, ttl.session_ttl),
        codes=CodeIssuer(store, clock, ISSUER, ttl, subjects),
        issuer=issuer,
        tokens=TokenEndpoint(store, issuer, clock),
        subjects=subjects,
    )


VERIFIER = "verifier-" + "v" * 40


def authorization_request(**changes: Any) -> AuthorizationRequest:
    """What `validate_authorization_request` would have made of a portal's request."""
    values: dict[str, Any] = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "scope": ("openid", "profile"),
        "state": "st",
        "nonce": "no",
        "code_challenge": secrets.s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    return AuthorizationRequest(**(values | changes))


def log_lines(caplog: pytest.LogCaptureFixture, module: str) -> list[tuple[str, str, str | None]]:
    """What operators read from one module: level, message and the client_id it names."""
    return [
        (r.levelname, r.getMessage(), getattr(r, "client_id", None))
        for r in caplog.records
        if r.name == f"broker.frontend.oidc.{module}"
    ]
