"""Validation of the portal's authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636).

The client and its exact redirect_uri are checked first; until both pass, errors are pages for the
person, never redirects (RFC 6749 §4.1.2.1, RFC 9700 §4.1). After that, errors go back to the
portal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from broker.claims.release import permitted_scopes
from broker.errors import (
    AuthorizationRedirectError,
    InvalidRequestError,
    InvalidScopeError,
    OAuthError,
    RegistrationNotSupportedError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
    UntrustedRequestError,
)
from broker.frontend.oidc.portal_policy import effective_acr_values
from broker.store.records import ClientRecord

PKCE_VERIFIER_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
"""A base64url SHA-256 digest, matched whole (`$` would let a trailing newline through)."""
MAX_AGE = re.compile(r"[0-9]{1,9}")
"""ASCII digits only: `str.isdigit` also takes "²", which `int` then refuses."""
PROMPTS = ("none", "login", "select_account")
"""What the broker honours: select_account, like login, sends the person through the choice
pages instead of reusing the SSO session (`SessionManager.satisfies`). `consent` is refused as an
unsupported value (invalid_request): the broker asks no consent of its own (the portal is the
controller of what it requests), so it must not pretend to have asked."""
MAX_PARAM_LENGTH = 2048


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated request; kept in the login transaction, so it must stay JSON-friendly."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()
    ui_locales: str | None = None
    login_hint: str | None = None
    idp_hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        fields = dict(data)
        for key in ("scope", "prompt", "acr_values"):
            fields[key] = tuple(fields.get(key) or ())
        return cls(**fields)


def trusted_redirect(
    params: Mapping[str, str], client: ClientRecord | None
) -> tuple[ClientRecord, str]:
    """The client and redirect_uri, once the client is known and the URI registered character for
    character (RFC 9700 §4.1.3: exact string matching)."""
    if client is None:
        raise UntrustedRequestError("unknown client_id")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise UntrustedRequestError("redirect_uri missing")
    if redirect_uri not in client.redirect_uris:
        raise UntrustedRequestError("redirect_uri not registered for this client")
    return client, redirect_uri


def validate_authorization_request(
    params: Mapping[str, str],
    duplicates: frozenset[str],
    client: ClientRecord | None,
    *,
    acr_values_supported: tuple[str, ...],
    require_pkce: bool,
) -> AuthorizationRequest:
    if "client_id" in duplicates or "redirect_uri" in duplicates:
        raise UntrustedRequestError("client_id or redirect_uri repeated")
    client, redirect_uri = trusted_redirect(params, client)
    state = params.get("state")
    try:
        return _validate(
            params, duplicates, client, redirect_uri, acr_values_supported, require_pkce
        )
    except OAuthError as exc:
        raise AuthorizationRedirectError(exc, redirect_uri, state) from exc


def _validate(
    params: Mapping[str, str],
    duplicates: frozenset[str],
    client: ClientRecord,
    redirect_uri: str,
    acr_values_supported: tuple[str, ...],
    require_pkce: bool,
) -> AuthorizationRequest:
    if duplicates:
        raise InvalidRequestError(f"repeated parameter: {sorted(duplicates)[0]}")
    if any(len(v) > MAX_PARAM_LENGTH for v in params.values()):
        raise InvalidRequestError("parameter too long")
    _refuse_unsupported(params)
    if params.get("response_type") != "code":
        raise UnsupportedResponseTypeError("only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise InvalidRequestError("only response_mode=query is supported")
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClientError("client may not use the authorization code grant")
    scope = _scope(params.get("scope", ""), client)
    challenge, method = _pkce(params, client, require_pkce)
    prompt = tuple(params.get("prompt", "").split())
    if unknown := set(prompt) - set(PROMPTS):
        raise InvalidRequestError(f"unsupported prompt value: {sorted(unknown)[0]}")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=prompt,
        max_age=_max_age(params.get("max_age")),
        acr_values=effective_acr_values(
            _acr_values(params.get("acr_values"), acr_values_supported),
            client,
            acr_values_supported,
        ),
        ui_locales=params.get("ui_locales"),
        login_hint=params.get("login_hint"),
        idp_hint=params.get("idp_hint"),
    )


def _refuse_unsupported(params: Mapping[str, str]) -> None:
    if "request" in params:
        raise RequestNotSupportedError("request objects are not supported")
    if "request_uri" in params:
        raise RequestURINotSupportedError("request_uri is not supported")
    if "registration" in params:
        raise RegistrationNotSupportedError("registration parameter is not supported")


def _scope(raw: str, client: ClientRecord) -> tuple[str, ...]:
    requested = tuple(dict.fromkeys(raw.split()))
    if "openid" not in requested:
        raise InvalidScopeError("scope must include openid")
    permitted = permitted_scopes(client)
    if not_allowed := [s for s in requested if s not in permitted]:
        raise InvalidScopeError(f"scope not allowed for this client: {not_allowed[0]}")
    return requested


def _pkce(
    params: Mapping[str, str], client: ClientRecord, require_pkce: bool
) -> tuple[str | None, str | None]:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        public = client.token_endpoint_auth_method == "none"  # noqa: S105 - a method name
        if public or client.require_pkce or require_pkce:
            raise InvalidRequestError("code_challenge required (PKCE with S256)")
        if method is not None:
            raise InvalidRequestError("code_challenge_method without code_challenge")
        return None, None
    if method != "S256":
        raise InvalidRequestError("code_challenge_method must be S256")
    if not PKCE_VERIFIER_CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("code_challenge is not a base64url SHA-256 digest")
    return challenge, method


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not MAX_AGE.fullmatch(raw):
        raise InvalidRequestError("max_age must be a non-negative integer")
    return int(raw)


def _acr_values(raw: str | None, supported: tuple[str, ...]) -> tuple[str, ...]:
    """Voluntary acr_values keep their order of preference; unknown values are ignored."""
    return tuple(v for v in (raw or "").split() if v in supported)
