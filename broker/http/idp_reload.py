"""Pure ASGI middleware giving the IdP reloader (`broker.idp_reload`) its chance before each
request: at most once per `idps.reload_check_seconds` it reads the store's reload generation,
so a `sote-broker idps reload` shows on every replica's next page after that."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class IdPReloadMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reloader = getattr(scope["app"].state, "idp_reloader", None)
            if reloader is not None:
                await reloader.check()
        await self.app(scope, receive, send)
