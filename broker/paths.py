"""Every path the broker serves, defined once: the route tables, the redirects, the discovery
document, the rate limits and the error pages all name them from here."""

from __future__ import annotations

from typing import Final

# -- the OpenID Provider, for portals (discovery names them) ----------------------------------
DISCOVERY: Final = "/.well-known/openid-configuration"
AUTHORIZE: Final = "/authorize"
TOKEN: Final = "/token"  # noqa: S105 - a path, not a secret
USERINFO: Final = "/userinfo"
JWKS: Final = "/jwks"
REVOKE: Final = "/revoke"
INTROSPECT: Final = "/introspect"
END_SESSION: Final = "/end_session"

# -- the login journey, for people -------------------------------------------------------------
LOGIN_STEP: Final = "/login/{step}"
"""The choice pages: /login/role, /route, /group, /organisation (`journey.steps.STEP_PATHS`)."""
LOGIN_EMAIL: Final = "/login/email"
LOGIN_REMEMBERED: Final = "/login/remembered"
LOGIN_REGISTER: Final = "/login/register"
"""The "Register a professional account" entry on the route page."""
RETURN_UNMET: Final = "/login/return"
"""Back to the portal, after an answer that did not meet what it asked."""
REGISTER: Final = "/account/register"
CONFIRM: Final = "/account/confirm"
ACCOUNT: Final = "/account"
ACCOUNT_EMAIL: Final = "/account/email"
ACCOUNT_DELETE: Final = "/account/delete"

# -- the upstream IdPs --------------------------------------------------------------------------
OIDC_CALLBACK: Final = "/upstream/oidc/callback"
"""Followed by `/{idp_id}`: each OIDC IdP returns to its own redirect URI (RFC 9700 §4.4.2.2)."""
SAML_ACS: Final = "/upstream/saml/acs"
SAML_CONTINUE: Final = "/upstream/saml/continue"
SAML_SLO: Final = "/upstream/saml/slo"
SAML_METADATA: Final = "/saml/metadata"

# -- operators and the pages' own resources ----------------------------------------------------
HEALTHZ: Final = "/healthz"
HEALTH_LIVE: Final = "/health/live"
HEALTH_READY: Final = "/health/ready"
METRICS: Final = "/metrics"
NOTICES_JSON: Final = "/notices.json"
LANGUAGE: Final = "/lang"
STATIC: Final = "/static"
FAVICON: Final = "/favicon.ico"
BRANDING_CSS: Final = "/branding.css"
BRANDING_LOGO: Final = "/branding/logo"

JSON_PREFIXES: Final = (TOKEN, USERINFO, REVOKE, INTROSPECT, JWKS, "/.well-known/")
"""Where errors are answered as JSON rather than as a page."""
JOURNEY_PREFIXES: Final = ("/login/", "/account/")
"""The journey's pages, rate limited per client address."""
