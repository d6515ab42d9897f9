"""The web side: the received messages as a page (`/`) and as JSON (`/messages`).

A developer tool, in English only. Message content comes from whoever sent the mail, so the page
escapes it (Jinja2 autoescape) and allows no script, style from elsewhere or framing.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mock_idps.mail_sink.messages import MessageStore

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
}


def create_app(store: MessageStore, smtp_address: str = "") -> Starlette:
    """`smtp_address` ("127.0.0.1:8025") is only shown on the page, to say where to send."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    page = env.get_template("index.html")

    async def index(request: Request) -> Response:
        newest_first = list(reversed(store.messages(request.query_params.get("to"))))
        html = page.render(messages=newest_first, smtp_address=smtp_address)
        return HTMLResponse(html, headers=_HEADERS)

    async def messages(request: Request) -> Response:
        found = store.messages(request.query_params.get("to"))
        body = {"messages": [m.to_json() for m in reversed(found)]}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def clear(request: Request) -> Response:
        store.clear()
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/messages", messages, methods=["GET"]),
            Route("/messages", clear, methods=["DELETE"]),
            Route("/healthz", healthz),
        ]
    )
