"""A tiny round-robin HTTP load balancer for the replica tests: each request goes to the next
broker replica in turn, so a login's consecutive steps land on different processes."""

from __future__ import annotations

import itertools

import httpx
from starlette.types import Message, Receive, Scope, Send

_HOP_BY_HOP = {b"host", b"connection", b"content-length", b"transfer-encoding", b"keep-alive"}


class Balancer:
    """ASGI app forwarding to `upstreams` (base URLs) in turn; `served` records, per request,
    (upstream, path). A test may change `upstreams` (a replica taken out after it died)."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.served: list[tuple[str, str]] = []
        self._turn = itertools.count()

    def next_upstream(self) -> str:
        return self.upstreams[next(self._turn) % len(self.upstreams)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        upstream = self.next_upstream()
        self.served.append((upstream, scope["path"]))
        query = scope["query_string"].decode()
        url = upstream + scope["path"] + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.request(scope["method"], url, headers=headers, content=body)
        out = [
            (k.encode(), v.encode())
            for k, v in answer.headers.multi_items()
            if k.encode().lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        out.append((b"content-length", str(len(answer.content)).encode()))
        start: Message = {"type": "http.response.start", "status": answer.status_code}
        await send({**start, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})
