"""The deployment's branding: its colours as a stylesheet, its logo (`broker/branding.py`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from broker import paths
from broker.branding import LOGO_TYPES
from broker.errors import NotFoundError
from broker.http.context import broker

CACHE = {"Cache-Control": "public, max-age=3600"}


async def branding_css(request: Request) -> Response:
    """Custom properties over `style.css`'s (empty without colours in the settings)."""
    css = broker(request).settings.branding.css()
    return Response(css, media_type="text/css", headers=CACHE)


async def logo(request: Request) -> Response:
    path = broker(request).settings.branding.logo
    if path is None or not path.is_file():
        raise NotFoundError(paths.BRANDING_LOGO)
    return FileResponse(path, media_type=LOGO_TYPES[path.suffix.lower()], headers=CACHE)


ROUTES = [
    Route(paths.BRANDING_CSS, branding_css, methods=["GET"]),
    Route(paths.BRANDING_LOGO, logo, methods=["GET"]),
]
