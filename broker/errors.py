"""The broker's exceptions, one tree, mapped to responses in one place (`broker.http.errors`).

    BrokerError
    ├── ConfigError                 start-up: a bad settings file, key or client definition
    ├── StoreError                  the store failed (translated from the database driver)
    │   └── StoreUnavailableError   503: unreachable, restarting, full or read-only, for now
    ├── MailError                   the SMTP server could not be reached or refused a message
    ├── FormInputError              a field the person must correct, shown beside it on the same
    │   │                           form with what was typed (never a page of its own)
    │   └── InvalidContactError     a phone number or e-mail address that cannot be used
    ├── RequestLimitError           refused before any work: OAuth error JSON to portals, a page
    │   │                           to people
    │   ├── RequestTooLargeError    413: a body over the limit (counted as it arrives)
    │   ├── UnsupportedMediaTypeError  415: multipart bodies (no endpoint takes files)
    │   ├── TooManyFieldsError      400: a form with more fields than any page of ours has
    │   └── RateLimitedError        429 with Retry-After: one request too many in its window
    ├── PageError                   shown to a person as a page in their language, with an error id
    │   ├── UntrustedRequestError   /authorize: client or redirect_uri not trusted, never redirected
    │   ├── TransactionError        login transaction missing, expired or bound to another browser
    │   │   └── LoginElsewhereError an IdP's answer in a browser that did not begin that login
    │   ├── CSRFError               a form without a valid CSRF token
    │   ├── LogoutRequestError      /end_session: bad id_token_hint or post_logout_redirect_uri
    │   ├── NotFoundError           no such page
    │   ├── LoginUnavailableError   no login route is configured
    │   ├── UnknownChoiceError      a journey choice that is not on offer (tampered or stale page)
    │   ├── AccountLinkError        two logins that cannot be one account (another person's)
    │   ├── AccountRequiredError    an account page without an SSO session of an account
    │   ├── UpstreamLogoutError     an IdP's single-logout message refused, or answering nothing
    │   └── UpstreamError           the upstream IdP failed us; the person may pick another route
    │       ├── UpstreamUnavailableError   down, timed out, or answered garbage
    │       ├── UpstreamResponseError      an answer failing a check (signature, iss, aud, nonce…)
    │       ├── UpstreamDeniedError        the IdP said no (access_denied, login_required…)
    │       ├── UpstreamOfflineError       a route or organisation an operator took offline
    │       │   └── UpstreamLoginRequiredError   no login without interaction (SAML NoPassive)
    │       └── UpstreamRequirementError   a valid answer that does not satisfy prompt/max_age/acr
    │           ├── LinkAssuranceError     too weak to link by identity code to the account
    │           │                          that code already has
    │           └── PortalRequirementError  below what the portal asked: the page also leads
    │                                      back to the portal (unmet_authentication_requirements)
    └── OAuthError                  RFC 6749 error codes, one class per code
        ├── InvalidRequestError, UnauthorizedClientError, AccessDeniedError,
        │   UnsupportedResponseTypeError, InvalidScopeError, ServerError,
        │   TemporarilyUnavailableError, InvalidGrantError, UnsupportedGrantTypeError,
        │   UnsupportedTokenTypeError
        ├── InvalidClientError      401 with WWW-Authenticate (RFC 6749 §5.2)
        ├── InvalidTokenError       401 with WWW-Authenticate: Bearer (RFC 6750 §3.1)
        ├── InsufficientScopeError  403 (RFC 6750 §3.1)
        ├── LoginRequiredError, ConsentRequiredError, InteractionRequiredError,
        │   RequestNotSupportedError, RequestURINotSupportedError,
        │   RegistrationNotSupportedError (OpenID Connect Core §3.1.2.6)
        └── UnmetAuthenticationRequirementsError (OpenID Connect Core Error Code
                                    unmet_authentication_requirements 1.0)

An OAuthError raised while handling /authorize after the redirect_uri was validated is wrapped in
`AuthorizationRedirectError`, which carries where and how to redirect it; the response mapping never
redirects anything else.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Root of every error the broker raises on purpose."""


class ConfigError(BrokerError):
    """Settings, IdP or client configuration is invalid; start-up stops with this message."""


class StoreError(BrokerError):
    """The store failed; the driver's exception is chained."""


class StoreUnavailableError(StoreError):
    """The store cannot serve for now (connection lost or refused, server restarting, pool
    exhausted, disk full, file read-only): 503 temporarily_unavailable to portals, a page saying
    to try again shortly to people. A refused statement stays a StoreError (a bug: 500)."""

    error = "temporarily_unavailable"
    status_code = 503
    message_id = "error.unavailable"
    retry_after = 5


class MailError(BrokerError):
    """Mail (a one-time code) could not be handed to the SMTP server; the cause is chained."""


class FormInputError(BrokerError):
    """A form field to correct. `field` and `reason` name the message
    `registration.<field>.<reason>`; the value typed is never part of the error."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @property
    def message_id(self) -> str:
        return f"registration.{self.field}.{self.reason}"


class InvalidContactError(FormInputError):
    """A phone number or e-mail address that is malformed, missing or not a person's own."""


class RequestLimitError(BrokerError):
    """A request refused before the broker does any work for it. A portal-facing endpoint gets
    `error` as OAuth error JSON (RFC 6749 §5.2), a person a page (`message_id`)."""

    status_code = 400
    error = "invalid_request"
    message_id = "error.request_limit"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def headers(self) -> dict[str, str]:
        return {}


class RequestTooLargeError(RequestLimitError):
    """RFC 9110 §15.5.14: the body is larger than the endpoint accepts."""

    status_code = 413
    message_id = "error.too_large"


class UnsupportedMediaTypeError(RequestLimitError):
    """RFC 9110 §15.5.16: a multipart body; every form of the broker is urlencoded."""

    status_code = 415


class TooManyFieldsError(RequestLimitError):
    """A form with more fields (or a longer field) than the form parser accepts."""


class RateLimitedError(RequestLimitError):
    """RFC 6585 §4: too many requests in the window; `retry_after` seconds until it ends. On the
    token endpoint the code is temporarily_unavailable (RFC 6749 has none for rate limits)."""

    status_code = 429
    error = "temporarily_unavailable"
    message_id = "error.rate_limited"

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PageError(BrokerError):
    """An error shown to a person. `message_id` selects the translated explanation."""

    status_code = 400
    message_id = "error.generic"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.message_id)
        self.detail = detail


class UntrustedRequestError(PageError):
    """Client or redirect_uri not trusted, so the portal cannot be told (RFC 6749 §4.1.2.1)."""

    message_id = "error.untrusted_request"


class TransactionError(PageError):
    """The login transaction is missing, expired or belongs to another browser."""

    message_id = "error.transaction"


class LoginElsewhereError(TransactionError):
    """An IdP's answer reached a browser that did not begin that login (or without the handle
    the ACS gave it): nothing is logged in, and the page says why a link may have been a trap."""

    message_id = "error.login_elsewhere"


class CSRFError(PageError):
    """A form was posted without a valid CSRF token."""

    status_code = 403
    message_id = "error.csrf"


class LogoutRequestError(PageError):
    """An RP-initiated logout request that cannot be honoured as asked."""

    message_id = "error.logout_request"


class NotFoundError(PageError):
    status_code = 404
    message_id = "error.not_found"


class LoginUnavailableError(PageError):
    """No login route is configured for this broker."""

    status_code = 503
    message_id = "error.login_unavailable"


class UnknownChoiceError(PageError):
    """A choice that is not on offer (a tampered form or a stale page)."""

    message_id = "error.choice"


class AccountLinkError(PageError):
    """The second login of a linking belongs to another person (or already to another account)."""

    status_code = 409
    message_id = "error.account_link"


class AccountRequiredError(PageError):
    """The account pages need the browser's SSO session of a registered account."""

    status_code = 401
    message_id = "error.account_required"


class UpstreamError(PageError):
    """Something went wrong with the upstream IdP; the page offers the other routes."""

    status_code = 502
    message_id = "error.upstream"


class UpstreamUnavailableError(UpstreamError):
    """The IdP is down, too slow, or answered something that is not its protocol."""

    message_id = "error.upstream_unavailable"


class UpstreamResponseError(UpstreamError):
    """The IdP's answer failed a check: signature, issuer, audience, expiry, state or nonce."""

    message_id = "error.upstream_invalid"


class UpstreamDeniedError(UpstreamError):
    """The IdP answered with an error (the person cancelled, or could not log in)."""

    status_code = 400
    message_id = "error.upstream_denied"


class UpstreamOfflineError(UpstreamError):
    """The route or organisation is offline by an operator's notice (the page shows it)."""

    status_code = 503
    message_id = "error.upstream_offline"

    def __init__(self, detail: str, *, route: str | None = None, idp: str | None = None) -> None:
        super().__init__(detail)
        self.route = route
        self.idp = idp


class UpstreamLoginRequiredError(UpstreamDeniedError):
    """The IdP cannot log the person in without showing a page (SAML NoPassive after IsPassive);
    a portal that asked with prompt=none gets login_required instead of this page."""


class UpstreamRequirementError(UpstreamError):
    """A valid answer that does not satisfy what the portal asked: fresh login, max_age, acr."""

    status_code = 400
    message_id = "error.upstream_requirements"


class PortalRequirementError(UpstreamRequirementError):
    """An answer that does not meet what the portal requires (its acr_values, raised to its
    minimum acr): the page offers the other routes, and a way back to the portal, which then
    gets unmet_authentication_requirements (`portal` is the portal's display name)."""

    message_id = "error.portal_requirements"

    def __init__(self, detail: str, *, portal: str | None) -> None:
        super().__init__(detail)
        self.portal = portal


class LinkAssuranceError(UpstreamRequirementError):
    """The login's identity code already has an account, but its level of assurance is below
    what linking by the code needs: a stronger login, or the account's own route, is needed
    (the page offers the routes again)."""

    status_code = 403
    message_id = "error.link_assurance"


class UpstreamLogoutError(PageError):
    """A LogoutResponse or LogoutRequest from an upstream IdP that fails a check (signature,
    issuer, destination, InResponseTo) or answers no logout the broker asked for."""

    message_id = "error.upstream_logout"


class OAuthError(BrokerError):
    """An OAuth 2.0 / OpenID Connect protocol error; `error` is the registered code."""

    error = "invalid_request"
    status_code = 400

    def __init__(self, description: str = "") -> None:
        super().__init__(description or self.error)
        self.description = description

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequestError(OAuthError):
    """RFC 6749 §4.1.2.1 and §5.2: missing, invalid or repeated parameter."""

    error = "invalid_request"


class InvalidClientError(OAuthError):
    """RFC 6749 §5.2: client authentication failed; 401 with a WWW-Authenticate challenge."""

    error = "invalid_client"
    status_code = 401

    def __init__(self, description: str = "", scheme: str = "Basic") -> None:
        super().__init__(description)
        self.scheme = scheme

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'{self.scheme} realm="sote-broker"'}


class InvalidGrantError(OAuthError):
    """RFC 6749 §5.2: code or refresh token invalid, expired, revoked or not this client's."""

    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    """RFC 6749 §4.1.2.1 and §5.2: this client may not use this grant or response type."""

    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    """RFC 6749 §5.2."""

    error = "unsupported_grant_type"


class UnsupportedResponseTypeError(OAuthError):
    """RFC 6749 §4.1.2.1."""

    error = "unsupported_response_type"


class InvalidScopeError(OAuthError):
    """RFC 6749 §4.1.2.1 and §5.2."""

    error = "invalid_scope"


class AccessDeniedError(OAuthError):
    """RFC 6749 §4.1.2.1."""

    error = "access_denied"


class ServerError(OAuthError):
    """RFC 6749 §4.1.2.1."""

    error = "server_error"
    status_code = 500


class TemporarilyUnavailableError(OAuthError):
    """RFC 6749 §4.1.2.1."""

    error = "temporarily_unavailable"
    status_code = 503


class UnsupportedTokenTypeError(OAuthError):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"


class InvalidTokenError(OAuthError):
    """RFC 6750 §3.1: the access token is missing, expired, revoked or malformed."""

    error = "invalid_token"
    status_code = 401

    def headers(self) -> dict[str, str]:
        challenge = f'Bearer realm="sote-broker", error="{self.error}"'
        if self.description:
            challenge += f', error_description="{self.description}"'
        return {"WWW-Authenticate": challenge}


class MissingTokenError(InvalidTokenError):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge, no error code."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="sote-broker"'}


class InsufficientScopeError(InvalidTokenError):
    """RFC 6750 §3.1."""

    error = "insufficient_scope"
    status_code = 403


class LoginRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, but the user is not logged in."""

    error = "login_required"


class InteractionRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6."""

    error = "interaction_required"


class ConsentRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6."""

    error = "consent_required"


class RequestNotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6: the `request` parameter is not supported."""

    error = "request_not_supported"


class RequestURINotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6: the `request_uri` parameter is not supported."""

    error = "request_uri_not_supported"


class RegistrationNotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6: the `registration` parameter is not supported."""

    error = "registration_not_supported"


class UnmetAuthenticationRequirementsError(OAuthError):
    """OpenID Connect Core Error Code unmet_authentication_requirements 1.0 §1: the OP could not
    authenticate the End-User as the RP requires (here: at the portal's minimum acr)."""

    error = "unmet_authentication_requirements"


class AuthorizationRedirectError(BrokerError):
    """An OAuthError that goes back to the portal's already validated redirect_uri."""

    def __init__(self, cause: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(cause.error)
        self.cause = cause
        self.redirect_uri = redirect_uri
        self.state = state
