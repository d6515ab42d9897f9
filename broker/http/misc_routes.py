"""Small routes: health, the language switch, static files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from broker import paths
from broker.errors import NotFoundError
from broker.http.context import broker
from broker.http.cookies import LANGUAGE
from broker.ui import LOCALES

ONE_YEAR = 365 * 24 * 3600


async def no_favicon(request: Request) -> Response:
    """Browsers ask for it unprompted; an empty answer keeps 404 warnings out of the log."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


async def saml_metadata(request: Request) -> Response:
    """The broker's signed SAML SP metadata, at its entity id, for the IdPs' operators."""
    saml = broker(request).saml
    if saml is None:
        raise NotFoundError("no SAML IdP is configured")
    return Response(await saml.metadata(), media_type="application/samlmetadata+xml")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def safe_local_path(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no `//` or `/\\` tricks (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")):
        return "/"
    return target


async def switch_language(request: Request) -> Response:
    ctx = broker(request)
    response = RedirectResponse(safe_local_path(request.query_params.get("next")), 303)
    chosen = request.query_params.get("to")
    if chosen in LOCALES:
        ctx.cookies.set(response, LANGUAGE, chosen, ONE_YEAR)
    return response


ROUTES = [
    Route(paths.HEALTHZ, health, methods=["GET"]),
    Route(paths.FAVICON, no_favicon, methods=["GET"]),
    Route(paths.SAML_METADATA, saml_metadata, methods=["GET"]),
    Route(paths.LANGUAGE, switch_language, methods=["GET"]),
    Mount(paths.STATIC, app=StaticFiles(packages=[("broker.ui", "static")]), name="static"),
]
