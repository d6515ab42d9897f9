"""Unit-test fixtures for the login journey: the journey's objects wired as `broker.assembly`
wires them, over a real SQLite store in tmp_path, a frozen clock and the repository's IdP files,
with no HTTP. Only the upstream IdPs are stand-ins (`StubConnector`: the protocol checks are the
connectors' own tests), and the e-mail codes go to a list instead of an SMTP server. A broken
decision fails here in milliseconds, where a flow test needs a broker (docs/mutation.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from broker.accounts.catalogue import load_catalogue
from broker.accounts.email_codes import EmailCodes
from broker.accounts.service import Accounts
from broker.claims.identity import RawIdentity
from broker.clock import FrozenClock
from broker.errors import BrokerError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.audit_trail import AuditTrail
from broker.journey.completion import Redirect
from broker.journey.flow import LoginJourney
from broker.journey.registration import AccountStage
from broker.journey.steps import JourneyMap
from broker.journey.transactions import LoginTransactions
from broker.notices.board import NoticeBoard
from broker.settings import Settings
from broker.store.notices import NoticeRecord
from broker.store.records import ClientRecord, TransactionRecord
from broker.store.sqlite import SQLiteStore
from broker.upstream.idp_files import load_registry
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.registry import Registry
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saved_login import UpstreamRedirect
from tests.upstream.conftest import SP_ENTITY_ID

T0 = 1_800_000_000.0
ISSUER = "https://broker.example.fi"
REDIRECT = "https://portal.example.fi/callback"
SUBJECT_KEY = b"j" * 32
REPO_CONFIGS = Path(__file__).resolve().parents[2] / "idp_configs"
VERIFIER = "verifier-" + "v" * 40


@dataclass
class StubConnector:
    """An upstream IdP that answers what the test says (`answer`: an identity or an error),
    and remembers what the journey asked of it."""

    idp_id: str
    answer: RawIdentity | BrokerError | None = None
    started: list[UpstreamLogin] = field(default_factory=list)
    finished: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    async def start(self, login: UpstreamLogin) -> UpstreamRedirect:
        self.started.append(login)
        n = len(self.started)
        return UpstreamRedirect(f"https://{self.idp_id}.idp.example/login?n={n}", {"n": n})

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity:
        self.finished.append((dict(params), dict(saved)))
        if isinstance(self.answer, BrokerError):
            raise self.answer
        if self.answer is None:
            raise AssertionError(f"{self.idp_id}: no answer set by the test")
        return self.answer


@dataclass
class MailBox:
    """The one-time codes the broker sent: (address, code, language)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    failing: bool = False

    async def send(self, to: str, subject: str, body: str, *, language: str) -> None:
        from broker.errors import MailError

        if self.failing:
            raise MailError("the mail server said no")
        self.sent.append((to, body, language))

    def last_code(self) -> str:
        return self.sent[-1][1]


@dataclass
class JourneyParts:
    journey: LoginJourney
    store: SQLiteStore
    clock: FrozenClock
    registry: Registry
    connectors: dict[str, StubConnector]
    mail: MailBox

    async def add_portal(self, client_id: str = "portal", **fields: Any) -> ClientRecord:
        values: dict[str, Any] = {
            "client_id": client_id,
            "client_name": f"Portal {client_id}",
            "redirect_uris": (REDIRECT,),
            "token_endpoint_auth_method": "client_secret_basic",
            "secret_hash": secrets.hash_secret("s" * 40),
            "created_at": T0,
        }
        record = ClientRecord(**(values | fields))
        await self.store.clients.put(record)
        return record

    async def notice(self, scope: str, target: str) -> None:
        """An operator's notice that takes a route or organisation offline now."""
        await self.store.notices.put(
            NoticeRecord(f"n-{scope}-{target}", scope, target, "severe", {}, T0 - 1, offline=True)  # type: ignore[arg-type]
        )

    async def tx(self, redirect: Redirect) -> TransactionRecord:
        return await self.journey.current(redirect.tx_id)

    async def reload(self, tx: TransactionRecord) -> TransactionRecord:
        return await self.journey.current(tx.tx_id)


def portal_params(client_id: str = "portal", **changes: str) -> dict[str, str]:
    """A valid authorization request of the portal, as its query string would bring it."""
    return {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile email",
        "state": "st",
        "nonce": "no",
        "code_challenge": secrets.s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    } | changes


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(scope="session")
def journey_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("journey-unit-keys") / "keys"
    KeyRing(directory, FrozenClock(T0 - 3600), publish_lead=0).ensure(["RS256"])
    return directory


@pytest.fixture(scope="session")
def saml_sp(saml_sp_keys: Path) -> ServiceProvider:
    """The broker's SAML SP (its key pair made once per run), for single logout and metadata."""
    return ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys)


@pytest.fixture
async def parts(tmp_path: Path, journey_keys: Path) -> AsyncIterator[JourneyParts]:
    clock = FrozenClock(T0)
    settings = Settings(
        mode="development",
        issuer=ISSUER,
        keys={"directory": journey_keys, "algorithms": ["RS256"]},  # type: ignore[arg-type]
    )
    store = SQLiteStore(tmp_path / "journey.db")
    await store.open()
    keys = KeyRing(journey_keys, clock, publish_lead=0)
    keys.load()
    registry = load_registry(REPO_CONFIGS, development=True)
    mail = MailBox()
    async with httpx.AsyncClient() as http:
        provider = OIDCProvider(settings, store, keys, clock, http, subject_key=SUBJECT_KEY)
        codes = EmailCodes(
            store.accounts, mail, lambda code, language: ("code", code), clock, SUBJECT_KEY
        )
        catalogue = await load_catalogue(store.accounts, clock.now())
        accounts = AccountStage(Accounts(store.accounts, clock), codes, catalogue)
        connectors = {idp.id: StubConnector(idp.id) for idp in registry.idps()}
        journey = LoginJourney(
            provider,
            LoginTransactions(store, clock, settings.tokens.transaction_ttl),
            JourneyMap(lambda: registry),
            connectors,
            accounts,
            AuditTrail(store, clock, lambda: registry),
            subject_key=SUBJECT_KEY,
            notices=NoticeBoard(store.notices, clock, cache_seconds=0),
        )
        yield JourneyParts(journey, store, clock, registry, connectors, mail)
    await store.close()
