"""The portal side of the tests: authlib's OpenID Connect client, not the broker's own code.

authlib discovers the broker, builds authorization URLs with PKCE and nonce, redeems codes and
validates ID tokens (signature against /jwks, iss, aud, exp, nonce, at_hash) itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

from tests.brokers import PORTAL, RunningBroker

REDIRECT_URI = f"{PORTAL}/callback"


@dataclass
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


def portal_client(
    broker: RunningBroker, client_id: str = "portal", **client_kwargs: Any
) -> StarletteOAuth2App:
    oauth = OAuth()
    kwargs: dict[str, Any] = {"scope": "openid profile email", "code_challenge_method": "S256"}
    kwargs.update(client_kwargs)
    oauth.register(
        name=client_id,
        client_id=client_id,
        client_secret=broker.secrets.get(client_id),
        server_metadata_url=broker.url + "/.well-known/openid-configuration",
        client_kwargs=kwargs,
    )
    client = oauth.create_client(client_id)
    assert isinstance(client, StarletteOAuth2App)
    return client


async def start(client: StarletteOAuth2App, **params: Any) -> Authorization:
    rv = await client.create_authorization_url(REDIRECT_URI, **params)
    return Authorization(rv["url"], rv["state"], rv.get("nonce", ""), rv.get("code_verifier", ""))


def callback_params(location: str) -> dict[str, str]:
    """The portal's view of the redirect: query parameters of its redirect_uri."""
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def redeem(
    client: StarletteOAuth2App, auth: Authorization, code: str, **extra: Any
) -> dict[str, Any]:
    params = {"code": code, "code_verifier": auth.code_verifier, **extra}
    token: dict[str, Any] = await client.fetch_access_token(redirect_uri=REDIRECT_URI, **params)
    return token


def code_form(code: str, verifier: str, **extra: str) -> dict[str, str]:
    """A token request for a code, written by hand (for the refusals a library would not send)."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **extra,
    }
