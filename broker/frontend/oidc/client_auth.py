"""Client authentication at the token, revocation and introspection endpoints.

client_secret_basic and client_secret_post (RFC 6749 §2.3.1), private_key_jwt (OIDC Core §9,
RFC 7523) with audience, lifetime and jti replay checks, and `none` for public clients. A client
must use the method it registered, and only one method per request.

A portal's `jwks_uri` is fetched when its keys are first needed and again for a `kid` they do
not have (the portal may have rotated), but at most once per `jwks_refetch_seconds` per portal
(by the injected clock), so assertions with made-up kids cannot make the broker hammer the
portal. The cooldown and the cache are per process, so P processes fetch at most P times.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from broker.clock import Clock
from broker.errors import InvalidClientError, InvalidRequestError
from broker.frontend.oidc import secrets
from broker.store.base import Store
from broker.store.records import ClientRecord
from broker.urls import is_https

log = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


@dataclass(frozen=True)
class Presented:
    """What the request carried, before anything is checked."""

    method: str
    client_id: str
    secret: str | None = None
    assertion: str | None = None


class ClientAuthenticator:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        endpoints: tuple[str, ...],
        max_assertion_age: int,
        clock_skew: int,
        jwks_refetch_seconds: float,
        https_only: bool = False,
    ) -> None:
        """`https_only` (production): a client's jwks_uri is fetched only over https, even
        for a client stored before `check_client` refused plain http."""
        self._store = store
        self._clock = clock
        self._http = http
        self._audiences = {issuer, *endpoints}
        self._max_age = max_assertion_age
        self._skew = clock_skew
        self._https_only = https_only
        self._jwks_cache: dict[str, KeySet] = {}
        self._refetch_seconds = jwks_refetch_seconds
        self._fetched_at: dict[str, float] = {}  # client_id -> when its jwks_uri was fetched

    async def authenticate(
        self, form: Mapping[str, str], authorization: str | None
    ) -> ClientRecord:
        presented = read_credentials(form, authorization)
        client = await self._store.clients.get(presented.client_id)
        if client is None:
            raise InvalidClientError("unknown client")
        if presented.method != client.token_endpoint_auth_method:
            raise InvalidClientError("client authentication method not allowed")
        if presented.method in ("client_secret_basic", "client_secret_post"):
            if not (
                presented.secret
                and client.secret_hash
                and secrets.matches(presented.secret, client.secret_hash)
            ):
                raise InvalidClientError("client authentication failed")
        elif presented.method == "private_key_jwt":
            await self._check_assertion(client, presented.assertion or "")
        return client

    async def _check_assertion(self, client: ClientRecord, assertion: str) -> None:
        claims = await self._verified_claims(client, assertion)
        now = self._clock.now()
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise InvalidClientError("client assertion iss and sub must be the client_id")
        aud = claims.get("aud")
        audiences = set(aud) if isinstance(aud, list) else {aud}
        if not audiences & self._audiences:
            raise InvalidClientError("client assertion audience is not this provider")
        exp, jti = claims.get("exp"), claims.get("jti")
        if not isinstance(exp, int | float) or exp + self._skew < now:
            raise InvalidClientError("client assertion expired or without exp")
        if exp - now > self._max_age + self._skew:
            raise InvalidClientError("client assertion lives too long")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and (iat - self._skew > now or now - iat > self._max_age):
            raise InvalidClientError("client assertion iat out of range")
        if not isinstance(jti, str) or not jti:
            raise InvalidClientError("client assertion needs a jti")
        if not await self._store.replay.remember_jti(client.client_id, jti, exp + self._skew):
            log.warning("replayed client assertion refused", extra={"client_id": client.client_id})
            raise InvalidClientError("client assertion was already used")

    async def _verified_claims(self, client: ClientRecord, assertion: str) -> dict[str, Any]:
        """The claims, once the signature verifies with the client's keys; a `kid` they lack
        makes a client with a jwks_uri fetch them once more (it may have rotated)."""
        try:
            return _decoded(assertion, await self._client_keys(client, refresh=False))
        except InvalidKeyIdError as exc:
            if not client.jwks_uri:
                raise InvalidClientError("client assertion signed by an unknown key") from exc
        try:
            return _decoded(assertion, await self._client_keys(client, refresh=True))
        except InvalidKeyIdError as exc:
            raise InvalidClientError("client assertion signed by an unknown key") from exc

    async def _client_keys(self, client: ClientRecord, *, refresh: bool) -> KeySet:
        if client.jwks:
            return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        uri = client.jwks_uri
        if not uri:  # `check_client` refuses such a registration
            raise InvalidClientError("client has no keys")
        cached = self._jwks_cache.get(uri)
        if cached is not None and not refresh:
            return cached
        if not self._may_fetch(client.client_id):
            raise InvalidClientError("client keys were fetched moments ago; unknown key")
        self._jwks_cache[uri] = await self._fetch_jwks(uri)
        return self._jwks_cache[uri]

    def _may_fetch(self, client_id: str) -> bool:
        """True, and the fetch is recorded, unless this client's keys were fetched (or tried)
        less than the cooldown ago."""
        now = self._clock.now()
        last = self._fetched_at.get(client_id)
        if last is not None and now - last < self._refetch_seconds:
            return False
        self._fetched_at[client_id] = now
        return True

    async def _fetch_jwks(self, uri: str) -> KeySet:
        if self._https_only and not is_https(uri):
            log.warning("client jwks_uri is not https; not fetched (sote-broker check-config)")
            raise InvalidClientError("client keys cannot be fetched")
        try:
            response = await self._http.get(uri)
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, json.JSONDecodeError, JoseError, ValueError) as exc:
            log.warning("cannot fetch client JWKS: %s", type(exc).__name__)
            raise InvalidClientError("client keys cannot be fetched") from exc


def _decoded(assertion: str, keys: KeySet) -> dict[str, Any]:
    """The verified claims; InvalidKeyIdError for a `kid` that `keys` lack."""
    try:
        return dict(jwt.decode(assertion, keys, algorithms=ASSERTION_ALGS).claims)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        raise InvalidClientError("client assertion signature invalid") from exc


def read_credentials(form: Mapping[str, str], authorization: str | None) -> Presented:
    """Find exactly one client authentication method in the request."""
    found: list[Presented] = []
    if authorization and authorization[:6].lower() == "basic ":
        found.append(_basic(authorization[6:]))
    if "client_secret" in form:
        found.append(
            Presented("client_secret_post", form.get("client_id", ""), form["client_secret"])
        )
    if "client_assertion" in form or "client_assertion_type" in form:
        found.append(_assertion(form))
    if len(found) > 1:
        raise InvalidRequestError("more than one client authentication method")
    if found:
        presented = found[0]
        if form.get("client_id") and form["client_id"] != presented.client_id:
            raise InvalidClientError("client_id does not match the credentials")
        return presented
    if not form.get("client_id"):
        raise InvalidClientError("client authentication required")
    return Presented("none", form["client_id"])


def _basic(encoded: str) -> Presented:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClientError("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClientError("malformed Basic credentials")
    return Presented("client_secret_basic", unquote(client_id), unquote(secret))


def _assertion(form: Mapping[str, str]) -> Presented:
    if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
        raise InvalidClientError("unsupported client_assertion_type")
    assertion = form["client_assertion"]
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        client_id = claims["sub"] if isinstance(claims, dict) else None
    except (IndexError, ValueError, KeyError, binascii.Error) as exc:
        raise InvalidClientError("malformed client assertion") from exc
    if not isinstance(client_id, str):
        raise InvalidClientError("malformed client assertion")
    return Presented("private_key_jwt", form.get("client_id") or client_id, assertion=assertion)
