"""OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414)."""

from __future__ import annotations

from typing import Any

from broker import paths
from broker.claims.scopes import supported_claims, supported_scopes
from broker.claims.subjects import SUBJECT_TYPES
from broker.frontend.oidc.authorization import PROMPTS
from broker.frontend.oidc.client_auth import ASSERTION_ALGS
from broker.frontend.oidc.clients import AUTH_METHODS, SIGNING_ALGS
from broker.settings import Settings

ENDPOINTS = {
    "authorization_endpoint": paths.AUTHORIZE,
    "token_endpoint": paths.TOKEN,
    "userinfo_endpoint": paths.USERINFO,
    "jwks_uri": paths.JWKS,
    "revocation_endpoint": paths.REVOKE,
    "introspection_endpoint": paths.INTROSPECT,
    "end_session_endpoint": paths.END_SESSION,
}


def endpoint(settings: Settings, name: str) -> str:
    return settings.issuer + ENDPOINTS[name]


def provider_metadata(settings: Settings) -> dict[str, Any]:
    """Only what the broker does: revocation and introspection authenticate a client as the
    token endpoint does (`ClientAuthenticator`), so a public client uses them with `none`."""
    return {
        "issuer": settings.issuer,
        **{name: settings.issuer + path for name, path in ENDPOINTS.items()},
        "scopes_supported": supported_scopes(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": list(SIGNING_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": supported_claims(),
        "acr_values_supported": list(settings.acr_values_supported),
        "prompt_values_supported": list(PROMPTS),
        "ui_locales_supported": ["fi", "sv", "en"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }
