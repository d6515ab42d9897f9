"""Pure ASGI middleware bounding what a request body can cost: the bytes are counted as they
arrive, and the request is refused with 413 once over the limit, whatever Content-Length said or
whether it was sent at all (chunked), so no route ever holds more than the limit in memory.
Multipart bodies are refused with 415: every form of the broker is urlencoded."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.errors import RequestLimitError, RequestTooLargeError, UnsupportedMediaTypeError
from broker.http.errors import error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, by_path: Mapping[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.by_path = by_path
        """Paths with a limit of their own (the SAML ACS)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.limit)
        if refused := _refused_by_headers(Headers(scope=scope), limit):
            response = await error_response(Request(scope), refused)
            await response(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)


def _refused_by_headers(headers: Headers, limit: int) -> RequestLimitError | None:
    if headers.get("content-type", "").strip().lower().startswith("multipart/"):
        return UnsupportedMediaTypeError("multipart bodies are not accepted")
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return RequestTooLargeError(f"request body over {limit} bytes")
    return None


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive` that raises RequestTooLargeError (mapped to 413 by the exception handlers) at
    the first message that takes the body over `limit`; the rest is never read."""
    received = 0

    async def receive_counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestTooLargeError(f"request body over {limit} bytes")
        return message

    return receive_counted
