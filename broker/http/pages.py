"""Rendering pages for people: the language switch and the common response headers."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from broker import paths
from broker.http.context import broker, locale_of


def page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    ui_locales: str | None = None,
    **context: object,
) -> HTMLResponse:
    ctx = broker(request)
    locale = locale_of(request, ui_locales)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    links = ctx.renderer.language_links(
        lambda lang: paths.LANGUAGE + "?" + urlencode({"to": lang, "next": here})
    )
    html = ctx.renderer.render(template, locale, lang_links=links, **context)
    return HTMLResponse(html, status_code=status_code)
