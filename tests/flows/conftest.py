"""Shared by the flow tests: a portal's back-channel logout endpoint, and waiting for it; a
broker in production mode."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.app import create_app
from broker.clock import FrozenClock
from tests.brokers import RunningBroker, make_settings
from tests.servers import bound_socket, serve


@dataclass
class LogoutReceiver:
    """A portal's back-channel logout endpoint that records what it is sent."""

    url: str = ""
    tokens: list[str] = field(default_factory=list)
    failures_left: int = 0
    release: threading.Event | None = None
    received: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            form = await request.form()
            self.tokens.append(str(form["logout_token"]))
            self.received.set()
            if self.release is not None:
                await asyncio.to_thread(self.release.wait, 10)
            if self.failures_left:
                self.failures_left -= 1
                return Response(status_code=503)
            return Response(status_code=200, headers={"Cache-Control": "no-store"})

        return Starlette(routes=[Route("/backchannel", endpoint, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    recorder = LogoutReceiver()
    with serve(recorder.app(), bound_socket()) as url:
        recorder.url = url + "/backchannel"
        yield recorder


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def attacker() -> AsyncIterator[httpx.AsyncClient]:
    """A second browser (its own cookies), for attacks where another browser is the victim."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client


@pytest.fixture
def production_broker(tmp_path: Path, broker_keys: Path) -> Iterator[RunningBroker]:
    """A broker in production mode (served over http here; only its issuer says https)."""
    sock = bound_socket()
    shutil.copytree(broker_keys, tmp_path / "keys")
    settings = make_settings(
        tmp_path,
        sock.getsockname()[1],
        mode="production",
        issuer="https://broker.example",
        keys={"publish_lead_seconds": 3600},
    )
    clock = FrozenClock(time.time())
    with serve(create_app(settings, clock=clock), sock) as url:
        yield RunningBroker(url, clock, settings)
