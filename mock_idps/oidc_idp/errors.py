"""OAuth 2.0 / OpenID Connect errors the mock answers with, one class per error code.

OAuthError                      an error a client may see, by redirect or in a JSON body
├── InvalidRequestError         RFC 6749 §4.1.2.1, §5.2
├── UnsupportedResponseTypeError RFC 6749 §4.1.2.1
├── InvalidScopeError           RFC 6749 §4.1.2.1
├── LoginRequiredError          OpenID Connect Core 1.0 §3.1.2.6
├── RequestNotSupportedError    OpenID Connect Core 1.0 §3.1.2.6
├── InvalidClientError          RFC 6749 §5.2 (401)
├── InvalidGrantError           RFC 6749 §5.2
├── UnsupportedGrantTypeError   RFC 6749 §5.2
└── InvalidTokenError           RFC 6750 §3.1 (401)
UnredirectableError             bad client_id or redirect_uri: a page for the person, never a
                                redirect (RFC 6749 §4.1.2.1, first paragraph)
"""

from __future__ import annotations

from typing import ClassVar


class OAuthError(Exception):
    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequestError(OAuthError):
    """A parameter is missing, repeated, malformed or has an unsupported value."""

    error = "invalid_request"


class UnsupportedResponseTypeError(OAuthError):
    """Only the authorization code flow (response_type=code) is supported."""

    error = "unsupported_response_type"


class InvalidScopeError(OAuthError):
    """An OpenID Connect request must ask for the `openid` scope."""

    error = "invalid_scope"


class LoginRequiredError(OAuthError):
    """prompt=none, but the person would have to log in (no IdP session, or max_age passed)."""

    error = "login_required"


class RequestNotSupportedError(OAuthError):
    """The mock does not take request objects (`request` / `request_uri`)."""

    error = "request_not_supported"


class InvalidClientError(OAuthError):
    """Client authentication failed: unknown client, wrong secret, or none given."""

    error = "invalid_client"
    status_code = 401


class InvalidGrantError(OAuthError):
    """The code is unknown, used, expired, or bound to another client, redirect_uri or verifier."""

    error = "invalid_grant"


class UnsupportedGrantTypeError(OAuthError):
    """Only grant_type=authorization_code is supported."""

    error = "unsupported_grant_type"


class InvalidTokenError(OAuthError):
    """The bearer token is missing, unknown, expired or revoked."""

    error = "invalid_token"
    status_code = 401


class UnredirectableError(Exception):
    """The client_id or redirect_uri cannot be trusted, so the error must not go to redirect_uri."""
