"""Plain records passed between the store and the layers above it (no driver types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar


@dataclass(frozen=True)
class ClientRecord:
    """A portal registered with the broker (an OAuth client)."""

    client_id: str
    client_name: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    post_logout_redirect_uris: tuple[str, ...] = ()
    secret_hash: str | None = None
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    backchannel_logout_uri: str | None = None
    allowed_scopes: tuple[str, ...] = ("openid", "profile", "email", "phone")
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    id_token_signed_response_alg: str = "RS256"  # noqa: S105 - an algorithm name
    require_pkce: bool = True
    created_at: float = 0.0
    subject_type: str = "pairwise"
    """`pairwise` (the default) or `public` (OpenID Connect Core §8)."""
    sector_identifier: str | None = None
    """The host whose portals share one pairwise `sub`; default: the redirect URIs' host."""
    release_national_identity_code: bool = False
    """Whether the portal may ask for the `national_identity_code` scope (claim `hetu`); off
    unless an operator turns it on (`clients add --release-national-identity-code`)."""
    routes: tuple[str, ...] = ()
    """The login routes (journey.yaml ids) the portal offers; empty: every route."""
    idps: tuple[str, ...] = ()
    """The upstream IdPs (organisations, Suomi.fi) the portal offers; empty: every IdP."""
    default_acr: str | None = None
    """The least acr asked of a login whose request has no acr_values."""
    minimum_acr: str | None = None
    """The least acr any login for the portal gets: lower acr_values are raised to it, an
    answer below it is refused, and no ID token carries less."""
    policy_uri: str | None = None
    """The portal's privacy notice, linked from the choice pages (OIDC Registration §2)."""


@dataclass(frozen=True)
class TransactionRecord:
    """One login in progress: the portal's validated request and whatever the journey adds."""

    tx_id: str
    client_id: str
    request: dict[str, Any]
    created_at: float
    expires_at: float
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    relay_hash: str | None = field(default=None, repr=False)
    """Hash of the RelayState of the SAML login waiting for its answer (see `LoginTransactions`)."""


@dataclass(frozen=True)
class SessionRecord:
    """A browser's single sign-on session at the broker."""

    sid: str
    sub: str
    auth_time: float
    acr: str | None
    amr: tuple[str, ...]
    claims: dict[str, Any] = field(repr=False)  # may hold the identity code: never in a repr
    created_at: float
    expires_at: float
    ended_at: float | None = None


@dataclass(frozen=True)
class GrantRecord:
    """What one authorization produced: the code, and every token that descends from it."""

    grant_id: str
    client_id: str
    sub: str
    sid: str | None
    scope: tuple[str, ...]
    nonce: str | None
    auth_time: float
    acr: str | None
    amr: tuple[str, ...]
    claims: dict[str, Any] = field(repr=False)  # may hold the identity code: never in a repr
    created_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class CodeRecord:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used_at: float | None = None


@dataclass(frozen=True)
class TokenRecord:
    """An access or refresh token, kept only as the hash of its value."""

    token_hash: str
    kind: str  # "access" | "refresh"
    grant_id: str
    client_id: str
    sub: str
    scope: tuple[str, ...]
    issued_at: float
    expires_at: float
    used_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True)
class LogoutDelivery:
    """A back-channel logout notice waiting to reach a portal."""

    delivery_id: str
    client_id: str
    uri: str
    sub: str
    sid: str
    attempts: int
    next_attempt_at: float


@dataclass(frozen=True)
class UpstreamSession:
    """The upstream IdP's session behind an SSO session, as single logout (SAML SLO) names it:
    the NameID the IdP sent, with its format and qualifiers, and the AuthnStatement's
    SessionIndex. Kept in the store with the SSO session, never in a cookie, never logged."""

    idp_id: str
    name_id: str = field(repr=False)
    name_id_format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    session_index: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class UpstreamLogout:
    """A logout the broker asked an upstream IdP for (its LogoutRequest's id), waiting for the
    IdP's answer; `logout_id` is the RelayState, `target` where the browser goes afterwards."""

    logout_id: str
    idp_id: str
    request_id: str
    target: dict[str, Any]
    created_at: float
    expires_at: float


R = TypeVar("R", CodeRecord, TokenRecord)


@dataclass(frozen=True)
class Consumed(Generic[R]):
    """The outcome of a single-use redemption: the record, and whether it had been used before."""

    record: R
    first_use: bool
