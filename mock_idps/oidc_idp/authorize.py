"""Validation of authorization requests (OpenID Connect Core 1.0 §3.1.2.1, RFC 7636).

The client and its redirect_uri are checked first and on their own: until both are known good, an
error is shown to the person and never sent to the redirect_uri (RFC 6749 §4.1.2.1), otherwise the
mock would be an open redirector. Every later error names the redirect it goes to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mock_idps.oidc_idp.config import LOCALES, Client
from mock_idps.oidc_idp.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuthError,
    RequestNotSupportedError,
    UnredirectableError,
    UnsupportedResponseTypeError,
)

PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url(SHA-256), unpadded
_MAX_AGE = re.compile(r"[0-9]{1,10}")
_SINGLE = (
    *("client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce"),
    *("prompt", "max_age", "login_hint", "acr_values", "ui_locales"),
    *("code_challenge", "code_challenge_method"),
)


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    acr_values: tuple[str, ...] = ()
    ui_locales: tuple[str, ...] = ()

    @property
    def locale(self) -> str:
        return next((loc for loc in self.ui_locales if loc in LOCALES), "fi")

    def as_params(self) -> dict[str, str]:
        """The request as query parameters again, to carry it through the login form."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scope),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256" if self.code_challenge else None,
            "prompt": " ".join(sorted(self.prompt)) or None,
            "max_age": None if self.max_age is None else str(self.max_age),
            "login_hint": self.login_hint,
            "acr_values": " ".join(self.acr_values) or None,
            "ui_locales": " ".join(self.ui_locales) or None,
        }
        return {k: v for k, v in params.items() if v is not None}


class AuthorizationRequestError(Exception):
    """A redirectable error: `error` goes to `redirect_uri`, with `state`."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error, self.redirect_uri, self.state = error, redirect_uri, state


def validate_authorization_request(
    items: Sequence[tuple[str, str]], clients: Mapping[str, Client], org_id: str
) -> tuple[AuthorizationRequest, Client]:
    """Raise UnredirectableError or AuthorizationRequestError; return the request and its client.
    A registered redirect URI may name `{org}`: each organisation then accepts only its own
    (a relying party with one redirect URI per IdP, as RFC 9700 §4.4.2.2 advises)."""
    params = single_values(items)
    client, redirect_uri = _client_and_redirect_uri(params, clients, org_id)
    state = params.get("state") if isinstance(params.get("state"), str) else None
    try:
        return _validate(params, client, redirect_uri), client
    except OAuthError as exc:
        raise AuthorizationRequestError(exc, redirect_uri, state) from exc


def single_values(items: Sequence[tuple[str, str]]) -> dict[str, str | None]:
    """Parameters by name; a repeated one maps to None (RFC 6749 §3.1: never more than once)."""
    params: dict[str, str | None] = {}
    for key, value in items:
        params[key] = None if key in params else value
    return params


def _client_and_redirect_uri(
    params: Mapping[str, str | None], clients: Mapping[str, Client], org_id: str
) -> tuple[Client, str]:
    client = clients.get(params.get("client_id") or "")
    if client is None:
        raise UnredirectableError("unknown or missing client_id")
    redirect_uri = params.get("redirect_uri")
    registered = {uri.replace("{org}", org_id) for uri in client.redirect_uris}
    if redirect_uri is None or redirect_uri not in registered:
        raise UnredirectableError("redirect_uri is missing or not registered for this client")
    return client, redirect_uri


def _validate(
    params: Mapping[str, str | None], client: Client, redirect_uri: str
) -> AuthorizationRequest:
    repeated = [k for k in _SINGLE if k in params and params[k] is None]
    if repeated:
        raise InvalidRequestError(f"parameter repeated: {repeated[0]}")
    _check_response(params)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=_scope(params.get("scope")),
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=_code_challenge(params, client),
        prompt=_prompt(params.get("prompt")),
        max_age=_max_age(params.get("max_age")),
        login_hint=params.get("login_hint") or None,
        acr_values=tuple((params.get("acr_values") or "").split()),
        ui_locales=tuple((params.get("ui_locales") or "").split()),
    )


def _check_response(params: Mapping[str, str | None]) -> None:
    response_type = params.get("response_type")
    if not response_type:
        raise InvalidRequestError("response_type is missing")
    if response_type != "code":
        raise UnsupportedResponseTypeError("only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise InvalidRequestError("only response_mode=query is supported")
    if "request" in params or "request_uri" in params:
        raise RequestNotSupportedError("request objects are not supported")


def _scope(raw: str | None) -> tuple[str, ...]:
    scope = tuple(dict.fromkeys((raw or "").split()))
    if "openid" not in scope:
        raise InvalidScopeError("the openid scope is required")
    return scope


def _code_challenge(params: Mapping[str, str | None], client: Client) -> str | None:
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequestError("code_challenge_method without code_challenge")
        if client.require_pkce:
            raise InvalidRequestError("PKCE is required: code_challenge (S256) is missing")
        return None
    if method != "S256":
        raise InvalidRequestError("code_challenge_method must be S256")
    if not _CODE_CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("code_challenge is not a base64url SHA-256 digest")
    return challenge


def _prompt(raw: str | None) -> frozenset[str]:
    prompt = frozenset((raw or "").split())
    if prompt - PROMPT_VALUES:
        raise InvalidRequestError(f"unknown prompt value: {sorted(prompt - PROMPT_VALUES)[0]}")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    return prompt


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not _MAX_AGE.fullmatch(raw):
        raise InvalidRequestError("max_age must be a non-negative integer")
    return int(raw)
