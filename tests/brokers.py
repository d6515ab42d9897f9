"""A real broker on a free port with a movable clock, and portals registered in its store."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.app import create_app
from broker.assembly import make_store
from broker.clock import FrozenClock
from broker.frontend.oidc import secrets
from broker.settings import Settings
from broker.store.records import ClientRecord
from tests.mail import mail_sink
from tests.servers import bound_socket, serve

PORTAL = "http://127.0.0.1:9"  # redirects are read from Location headers, never followed


def make_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "mode": "development",
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "secret_file": tmp_path / "secret",
        "subject_key_file": tmp_path / "subject-key",
        "store": {"sqlite_path": tmp_path / "broker.db"},
        "keys": {"directory": tmp_path / "keys", "publish_lead_seconds": 0},
        # the background looks often whether SAML metadata is due (by the movable clock)
        "saml_sp": {"key_directory": tmp_path / "saml-keys", "metadata_check_seconds": 0.05},
        "backchannel": {"retry_base_seconds": 1, "poll_seconds": 0.05, "timeout_seconds": 2},
        "smtp": {"host": "127.0.0.1", "port": mail_sink().port, "security": "none"},
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
    idp_url: str = ""
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
        store = make_store(self.settings)
        await store.open()
        try:
            await store.clients.put(record)
        finally:
            await store.close()
        if secret:
            self.secrets[client_id] = secret
        return record

    async def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows straight from the broker's store, whichever the backend (`?` placeholders)."""
        store = make_store(self.settings)
        await store.open()
        try:
            return await store.connection.all(sql, params)
        finally:
            await store.close()


BACKENDS = ["sqlite", "postgresql"]


def start_broker(
    tmp_path: Path, keys: Path, sock: socket.socket | None = None, **overrides: Any
) -> Iterator[RunningBroker]:
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    shutil.copytree(keys, tmp_path / "keys")
    settings = make_settings(tmp_path, port, **overrides)
    clock = FrozenClock(time.time())
    with serve(create_app(settings, clock=clock), sock) as url:
        yield RunningBroker(url, clock, settings)
