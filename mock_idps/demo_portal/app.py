"""The demo portal as a Starlette app: `create_app(...)`.

It is an ordinary OpenID Connect relying party built on authlib's Starlette client and joserfc,
and imports nothing from `broker`: it proves that a real client library interoperates with the
broker, rather than the broker agreeing with itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from mock_idps.demo_portal.logout_tokens import LogoutTokenValidator
from mock_idps.demo_portal.middleware import SecurityHeaders
from mock_idps.demo_portal.pages import template_environment
from mock_idps.demo_portal.portal import Portal, PortalConfig
from mock_idps.demo_portal.routes import ROUTES, internal_error
from mock_idps.demo_portal.sessions import (
    SESSION_LIFETIME,
    ProfileStore,
    SessionStore,
    StateCache,
)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "demo_portal_session"
SCOPE = "openid profile email professional"  # professional: to pre-fill the profile


def create_app(
    issuer: str,
    client_id: str,
    client_secret: str | None,
    public_url: str,
    session_secret: str,
) -> Starlette:
    """The portal for the broker at `issuer`, registered there as `client_id` with the redirect
    URI `public_url + "/callback"`. Without a `client_secret` it is a public client (PKCE only)."""
    config = PortalConfig(issuer.rstrip("/"), client_id, public_url.rstrip("/"))
    oidc = _oidc_client(config, client_secret)
    portal = Portal(
        config=config,
        oidc=oidc,
        sessions=SessionStore(),
        profiles=ProfileStore(),
        logout_tokens=LogoutTokenValidator(
            config.issuer,
            client_id,
            oidc.load_server_metadata,
            lambda force: oidc.fetch_jwk_set(force=force),
        ),
        templates=template_environment(),
    )
    app = Starlette(
        routes=[*ROUTES, Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[
            Middleware(SecurityHeaders, issuer=config.issuer),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_LIFETIME,
                same_site="lax",
                https_only=config.public_url.startswith("https://"),
            ),
        ],
        exception_handlers={Exception: internal_error},
    )
    app.state.portal = portal
    return app


def _oidc_client(config: PortalConfig, client_secret: str | None) -> Any:
    """authlib's client: discovery, PKCE (S256), nonce, ID token and userinfo handling. Its login
    state lives in a server-side cache; the session cookie only binds it to the browser."""
    oauth = OAuth(cache=StateCache())
    client_kwargs: dict[str, Any] = {
        "scope": SCOPE,
        "code_challenge_method": "S256",
        "timeout": 10,
    }
    if client_secret is None:
        client_kwargs["token_endpoint_auth_method"] = "none"
    oauth.register(
        name="broker",
        client_id=config.client_id,
        client_secret=client_secret,
        server_metadata_url=config.issuer + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    return oauth.create_client("broker")
