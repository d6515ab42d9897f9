"""Fixtures: a real broker on a free port with a movable clock, and portals registered with it."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from broker.app import create_app
from broker.clock import FrozenClock
from broker.frontend.oidc import secrets
from broker.settings import Settings
from broker.store.records import ClientRecord
from broker.store.sqlite import SQLiteStore
from tests.servers import bound_socket, serve

PORTAL = "http://127.0.0.1:9"  # redirects are read from Location headers, never followed


def make_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "mode": "development",
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "secret_file": tmp_path / "secret",
        "store": {"sqlite_path": tmp_path / "broker.db"},
        "keys": {"directory": tmp_path / "keys", "publish_lead_seconds": 0},
        "dev_login": {"enabled": True},
        "backchannel": {"retry_base_seconds": 1, "poll_seconds": 0.05, "timeout_seconds": 2},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return Settings.model_validate(data)


@dataclass
class RunningBroker:
    url: str
    clock: FrozenClock
    settings: Settings
    secrets: dict[str, str] = field(default_factory=dict)

    async def add_client(self, client_id: str = "portal", **fields: Any) -> ClientRecord:
        """Register a portal straight in the store (the CLI does the same; it has its own test)."""
        method = fields.get("token_endpoint_auth_method", "client_secret_basic")
        secret = secrets.new_secret() if method.startswith("client_secret") else None
        record = ClientRecord(
            **{
                "client_id": client_id,
                "client_name": f"Portal {client_id}",
                "redirect_uris": (f"{PORTAL}/callback",),
                "post_logout_redirect_uris": (f"{PORTAL}/logged-out",),
                "token_endpoint_auth_method": method,
                "secret_hash": secrets.hash_secret(secret) if secret else None,
                "created_at": self.clock.now(),
                **fields,
            }
        )
        store = SQLiteStore(self.settings.store.sqlite_path)
        await store.open()
        try:
            await store.put_client(record)
        finally:
            await store.close()
        if secret:
            self.secrets[client_id] = secret
        return record


def start_broker(tmp_path: Path, **overrides: Any) -> Iterator[RunningBroker]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = make_settings(tmp_path, port, **overrides)
    clock = FrozenClock(time.time())
    with serve(create_app(settings, clock=clock), sock) as url:
        yield RunningBroker(url, clock, settings)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    yield from start_broker(tmp_path)


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping user agent that does not follow redirects, so each hop is checked."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


async def dev_login(
    browser: httpx.AsyncClient, broker_url: str, authorize_url: str, username: str = "tessa"
) -> httpx.Response:
    """Walk from the portal's authorization URL through the development login; returns the
    response that redirects back to the portal."""
    response = await browser.get(authorize_url)
    assert response.status_code == 303, response.text
    if not response.headers["location"].startswith("/dev-login"):
        return response
    page = await browser.get(broker_url + "/dev-login")
    assert page.status_code == 200
    form = hidden_inputs(page.text)
    form.update(username=username, name="Tessa Testilä", email="tessa@example.fi")
    return await browser.post(broker_url + "/dev-login", data=form)


def _b64decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified (for looking, not trusting)."""
    header, payload, _ = token.split(".")
    return _b64decode(header), _b64decode(payload)


def tamper(token: str, **claims: Any) -> str:
    """The same JWS with changed claims and the original signature."""
    header, payload, signature = token.split(".")
    changed = {**_b64decode(payload), **claims}
    encoded = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def rsa_client_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-key-1", "alg": "RS256"})
