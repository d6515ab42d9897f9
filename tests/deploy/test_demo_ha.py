"""`make demo-ha` (scripts/demo-ha.sh) and its load balancer (scripts/balancer.py).

The smoke test runs the script as a developer does with DEMO_NO_WAIT=1: a throwaway PostgreSQL,
`sote-broker migrate`, two replicas, the balancer on 8000, the mocks and the portal; the script
itself checks the discovery document and /health/ready of both replicas through the balancer,
then stops everything. It takes about 30 s and needs the demo's fixed ports, so it is skipped
when one of them is taken (another engineer's `make demo` on this machine)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from scripts.balancer import Balancer
from tests.servers import bound_socket, serve

REPO = Path(__file__).resolve().parents[2]
DEMO_PORTS = (8000, 8001, 8002, 8003, 8004, 8005, 8006, 8010, 8011, 8025)
# Where the script keeps the cluster: as root the server runs as the postgres user, who cannot
# enter var/ (the broker makes it 0700), so it is outside the repository then.
PG_DIR = (
    Path("/var/tmp/sote-broker-demo-ha-pg")  # noqa: S108 (the script's fixed place, no symlink)
    if os.geteuid() == 0
    else REPO / "var/ha/pg"
)


def _busy(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_ha_starts_answers_through_the_balancer_and_stops() -> None:
    busy = [port for port in DEMO_PORTS if _busy(port)]
    if busy:
        pytest.skip(f"the demo's ports {busy} are in use")
    (REPO / "var").mkdir(mode=0o700, exist_ok=True)  # as the broker leaves it (keys live there)
    env = {**os.environ, "DEMO_NO_WAIT": "1"}
    env.pop("DEMO_KEEP_DB", None)
    env.pop("DEMO_PG_DIR", None)
    done = subprocess.run(
        [str(REPO / "scripts/demo-ha.sh")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "everything answered through the balancer" in done.stderr
    assert "two replicas on PostgreSQL behind a round-robin load balancer" in done.stdout
    assert not PG_DIR.exists()  # the throwaway cluster is gone
    assert [port for port in DEMO_PORTS if _busy(port)] == []  # and every process stopped


def _upstream(name: str) -> Iterator[str]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        response: Response = PlainTextResponse(
            f"{name} {request.method} {request.url.path}?{request.url.query} "
            f"cookie={request.headers.get('cookie')} xff={request.headers.get('x-forwarded-for')} "
            f"body={body.decode()}"
        )
        response.set_cookie("session", f"from-{name}")
        await response(scope, receive, send)

    with serve(app, bound_socket()) as url:
        yield url


@pytest.fixture
def two_upstreams() -> Iterator[tuple[str, str]]:
    a, b = _upstream("a"), _upstream("b")
    with_a, with_b = next(a), next(b)
    try:
        yield with_a, with_b
    finally:
        for gen in (a, b):
            with pytest.raises(StopIteration):
                next(gen)


def test_balancer_alternates_per_request_and_keeps_no_cookies(
    two_upstreams: tuple[str, str],
) -> None:
    balancer = Balancer(list(two_upstreams))
    with serve(balancer, bound_socket()) as front:
        answers = [
            httpx.post(f"{front}/token?x=1", content=b"grant=1", timeout=10).text for _ in range(4)
        ]
        # A second browser, without cookies, must not receive the first one's cookie.
        fresh = httpx.get(f"{front}/authorize", timeout=10)
    assert [a.split()[0] for a in answers] == ["a", "b", "a", "b"]
    assert all("POST /token?x=1" in a and "body=grant=1" in a for a in answers)
    assert all("xff=127.0.0.1" in a for a in answers)
    assert "cookie=None" in fresh.text
    assert fresh.cookies.get("session") == "from-a"  # Set-Cookie passes through to the browser


def test_balancer_skips_a_replica_that_refuses_connections(
    two_upstreams: tuple[str, str],
) -> None:
    with bound_socket() as probe:  # a port where nothing listens
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    balancer = Balancer([dead, two_upstreams[0]])
    with serve(balancer, bound_socket()) as front:
        answers = [httpx.get(f"{front}/x", timeout=10) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert all(r.text.startswith("a GET /x") for r in answers)
    nobody = Balancer([dead])
    with serve(nobody, bound_socket()) as front:
        assert httpx.get(f"{front}/x", timeout=10).status_code == 502
