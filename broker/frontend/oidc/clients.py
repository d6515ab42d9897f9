"""Portals as OAuth clients: how they are registered, and checks on what they registered."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from broker.claims.scopes import NATIONAL_IDENTITY_CODE_SCOPE, supported_scopes
from broker.claims.subjects import SUBJECT_TYPES
from broker.errors import ConfigError
from broker.store.records import ClientRecord
from broker.urls import is_https

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "refresh_token")
SIGNING_ALGS = ("RS256", "ES256")
KNOWN_SCOPES = tuple(supported_scopes())
MIN_SECRET_LENGTH = 32
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def check_client(client: ClientRecord, *, development: bool) -> None:
    """Refuse a registration that would weaken the provider; the message names the field."""
    cid = client.client_id
    if not cid or len(cid) > 200 or not cid.isprintable() or " " in cid:
        raise ConfigError("client_id: expected 1-200 printable characters without spaces")
    if client.token_endpoint_auth_method not in AUTH_METHODS:
        raise ConfigError(f"{cid}: token_endpoint_auth_method: expected one of {AUTH_METHODS}")
    if not client.redirect_uris:
        raise ConfigError(f"{cid}: redirect_uris: at least one is required")
    for uri in client.redirect_uris:
        check_redirect_uri(uri, development=development, field=f"{cid}: redirect_uris")
    for uri in client.post_logout_redirect_uris:
        check_redirect_uri(uri, development=development, field=f"{cid}: post_logout_redirect_uris")
    if client.backchannel_logout_uri:
        check_server_uri(
            client.backchannel_logout_uri,
            development=development,
            field=f"{cid}: backchannel_logout_uri",
        )
    if client.jwks_uri:
        check_server_uri(client.jwks_uri, development=development, field=f"{cid}: jwks_uri")
    _check_credentials(client)
    if unknown := set(client.grant_types) - set(GRANT_TYPES):
        raise ConfigError(f"{cid}: grant_types: unknown {sorted(unknown)}")
    if "openid" not in client.allowed_scopes:
        raise ConfigError(f"{cid}: allowed_scopes: must include openid")
    if unknown := set(client.allowed_scopes) - set(KNOWN_SCOPES):
        raise ConfigError(f"{cid}: allowed_scopes: unknown {sorted(unknown)}")
    _check_identity_code(client)
    if client.id_token_signed_response_alg not in SIGNING_ALGS:
        raise ConfigError(f"{cid}: id_token_signed_response_alg: expected one of {SIGNING_ALGS}")
    _check_subject_type(client)


def _check_identity_code(client: ClientRecord) -> None:
    """The identity code's scope has one switch, `release_national_identity_code`, so that the
    permission is never an item lost in a list; and a public client, which anyone can claim to
    be, cannot have it."""
    cid = client.client_id
    if NATIONAL_IDENTITY_CODE_SCOPE in client.allowed_scopes:
        raise ConfigError(
            f"{cid}: allowed_scopes: {NATIONAL_IDENTITY_CODE_SCOPE} is not listed; it comes with "
            "release_national_identity_code (clients add --release-national-identity-code)"
        )
    public = client.token_endpoint_auth_method == "none"  # noqa: S105 - a method name
    if client.release_national_identity_code and public:
        raise ConfigError(
            f"{cid}: release_national_identity_code: a public client (none) cannot have it"
        )


def _check_subject_type(client: ClientRecord) -> None:
    """OIDC Core §8.1: without a sector identifier, a pairwise client's redirect URIs must share
    one host, which then is the sector."""
    cid = client.client_id
    if client.subject_type not in SUBJECT_TYPES:
        raise ConfigError(f"{cid}: subject_type: expected one of {SUBJECT_TYPES}")
    sector = client.sector_identifier
    if sector is not None and not _HOST_RE.match(sector):
        raise ConfigError(f"{cid}: sector_identifier: expected a host name, e.g. portal.example.fi")
    hosts = {urlsplit(uri).hostname for uri in client.redirect_uris}
    if client.subject_type == "pairwise" and sector is None and len(hosts) > 1:
        raise ConfigError(
            f"{cid}: sector_identifier: redirect_uris on several hosts need one (pairwise sub)"
        )


def _check_credentials(client: ClientRecord) -> None:
    cid, method = client.client_id, client.token_endpoint_auth_method
    if method.startswith("client_secret") and not client.secret_hash:
        raise ConfigError(f"{cid}: {method} needs a secret")
    if method == "private_key_jwt" and not (client.jwks_uri or client.jwks):
        raise ConfigError(f"{cid}: private_key_jwt needs jwks_uri or jwks")
    if method == "none":
        if client.secret_hash:
            raise ConfigError(f"{cid}: a public client (none) cannot have a secret")
        if not client.require_pkce:
            raise ConfigError(f"{cid}: a public client (none) must use PKCE")


def check_server_uri(uri: str, *, development: bool, field: str) -> None:
    """A URI the broker itself calls (the client's keys, its back-channel logout): https in
    production with no loopback exception (a loopback service is not the portal's), http(s)
    only in development (for the mocks)."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ConfigError(f"{field}: {uri!r} must be an absolute URI without a fragment")
    plain_allowed = development and parts.scheme == "http" and parts.hostname
    if not plain_allowed and not is_https(uri):
        raise ConfigError(f"{field}: {uri!r} must use https")


def check_redirect_uri(uri: str, *, development: bool, field: str) -> None:
    """Absolute, no fragment (RFC 6749 §3.1.2), https except loopback or in development."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment or "#" in uri:
        raise ConfigError(f"{field}: {uri!r} must be an absolute URI without a fragment")
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and (loopback or development)):
        raise ConfigError(f"{field}: {uri!r} must use https")
