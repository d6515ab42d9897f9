"""A small round-robin HTTP load balancer for `make demo-ha`, the replica tests and the HA
benchmark: each request goes to the next upstream in turn (not each connection), so one login's
consecutive steps land on different broker replicas. An upstream that refuses the connection is
skipped for that request (the request had not been sent, so trying the next one is safe); if none
answers, 502. Adds X-Forwarded-For/-Proto like a real balancer. Not a production proxy: bodies
are buffered, and nothing is kept between requests (no cookies, no sticky sessions).

    python -m scripts.balancer --port 8000 http://127.0.0.1:8010 http://127.0.0.1:8011
"""

from __future__ import annotations

import argparse
import http.cookiejar
import itertools
import sys

import httpx
from starlette.types import Message, Receive, Scope, Send

_HOP_BY_HOP = {b"host", b"connection", b"content-length", b"transfer-encoding", b"keep-alive"}


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: the shared client must never carry one browser's cookies to
    another's request. (A jar, not an httpx.Cookies: httpx copies the latter into a default jar.)"""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class Balancer:
    """ASGI app forwarding to `upstreams` (base URLs) in turn; `served` records, per request,
    (upstream, path). A test may change `upstreams` (a replica taken out after it died)."""

    def __init__(self, upstreams: list[str], *, timeout: float = 30.0) -> None:
        self.upstreams = upstreams
        self.served: list[tuple[str, str]] = []
        self._turn = itertools.count()
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    def next_upstream(self) -> str:
        return self.upstreams[next(self._turn) % len(self.upstreams)]

    def _client(self) -> httpx.AsyncClient:
        # Made on first use, inside the server's event loop.
        if self._http is None:
            # Idle upstream connections go after 2 s, before uvicorn's 5 s keep-alive timeout
            # closes them from the replica's side (a request sent on one then fails).
            limits = httpx.Limits(
                max_connections=200, max_keepalive_connections=100, keepalive_expiry=2
            )
            self._http = httpx.AsyncClient(
                timeout=self._timeout, limits=limits, cookies=_no_cookies(), trust_env=False
            )
        return self._http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        target = scope["path"] + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", client[0].encode()))
        headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        answer: httpx.Response | None = None
        for _ in range(len(self.upstreams)):
            upstream = self.next_upstream()
            try:
                answer = await self._client().request(
                    scope["method"], upstream + target, headers=headers, content=body
                )
            except httpx.ConnectError:
                continue  # nothing was sent: the next replica may take it
            self.served.append((upstream, scope["path"]))
            break
        if answer is None:
            await _send(send, 502, [(b"content-type", b"text/plain")], b"no upstream answered\n")
            return
        out = [
            (k.encode(), v.encode())
            for k, v in answer.headers.multi_items()
            if k.encode().lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        await _send(send, answer.status_code, out, answer.content)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._http is not None:
                    await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m scripts.balancer", description=__doc__)
    parser.add_argument("upstreams", nargs="+", help="base URLs, e.g. http://127.0.0.1:8010")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    upstreams = [u.rstrip("/") for u in args.upstreams]
    uvicorn.run(
        Balancer(upstreams),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
