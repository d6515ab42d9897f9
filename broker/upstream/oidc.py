"""The broker as an OpenID Connect relying party towards one organisation IdP.

    start()  ─ discovery ─ state, nonce, PKCE ─────────────────▶ authorization request URL
    finish() ─ callback: state, iss, error, code ─ code exchange ─ ID token checks
             ─ the portal's requirements (prompt=login, max_age, acr) ─ userinfo ─▶ RawIdentity

Authorization code flow (OpenID Connect Core §3.1) with PKCE S256 (RFC 7636), a nonce, and the
`iss` callback parameter of RFC 9207. Discovery and JWKS are cached for `metadata_ttl` seconds of
the injected clock; an ID token signed with an unknown `kid` fetches the JWKS once more (key
rotation at the IdP). httpx and joserfc exceptions are translated where they happen into the
UpstreamError family. Error details go to the log: they name the IdP and the failed check, never a
token, code, state, nonce or anything about the person.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    InvalidKeyIdError,
    JoseError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet

from broker.claims.identity import RawIdentity
from broker.clock import Clock
from broker.errors import (
    ConfigError,
    UpstreamDeniedError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.oidc_checks import (
    at_hash_problem,
    b64,
    id_token_problem,
    requirement_problem,
)
from broker.upstream.registry import IdP
from broker.upstream.saved_login import (
    UpstreamRedirect,
    as_json,
    check_owner,
    reading_saved,
    requested_fields,
)
from broker.urls import is_https

log = logging.getLogger(__name__)

FORWARDED_PROMPTS = ("login", "none")
TOKEN_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "jti", "nonce", "azp", "at_hash", "c_hash", "s_hash"}
)
"""ID token mechanics: checked here, not part of the person's profile."""
PROTOCOL_CLAIMS = TOKEN_CLAIMS | {"sub", "acr", "amr", "auth_time", "sid"}
"""Claims only the (signed) ID token may set; userinfo cannot override them."""
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Saved:
    """What `start` saved in the login transaction, read back in `finish`."""

    idp: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    prompt: tuple[str, ...]
    max_age: int | None
    acr_values: tuple[str, ...]
    started_at: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], idp_id: str) -> _Saved:
        names = ("idp", "state", "nonce", "code_verifier", "redirect_uri")
        with reading_saved(idp_id):
            if not all(isinstance(data[k], str) and data[k] for k in names):
                raise TypeError("saved text missing")
            saved = cls(**{k: data[k] for k in names}, **requested_fields(data))
        check_owner(saved.idp, idp_id)
        return saved


@dataclass(frozen=True)
class _Metadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    iss_parameter_required: bool


@dataclass(frozen=True)
class _Tokens:
    id_token: str
    access_token: str


class _Cache(Generic[_T]):
    """One value fetched from the IdP, kept for `ttl` seconds of the injected clock."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._value: _T | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> _T | None:
        if self._value is not None and self._clock.now() - self._fetched_at < self._ttl:
            return self._value
        return None

    async def get(self, load: Callable[[], Awaitable[_T]], *, refresh: bool = False) -> _T:
        if not refresh and (value := self._fresh()) is not None:
            return value
        async with self._lock:  # one fetch at a time; the others wait and reuse it
            if not refresh and (value := self._fresh()) is not None:
                return value
            self._value = await load()
            self._fetched_at = self._clock.now()
            return self._value


class OIDCConnector:
    def __init__(
        self,
        idp: IdP,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        client_secret: str,
        clock_skew: int = 60,
        metadata_ttl: float = 3600,
        https_only: bool = False,
    ) -> None:
        """`https_only` (production): every endpoint found in discovery must be https."""
        oidc = idp.oidc_settings
        if unsafe := [a for a in oidc.id_token_algs if a == "none" or a.startswith("HS")]:
            raise ConfigError(f"{idp.id}.yaml: oidc.id_token_algs: {unsafe[0]} is not allowed")
        self._idp = idp
        self._oidc = oidc
        self._http = http
        self._clock = clock
        self._secret = client_secret
        self._skew = clock_skew
        self._https_only = https_only
        self._timeout = httpx.Timeout(oidc.timeout_seconds)
        self._metadata: _Cache[_Metadata] = _Cache(clock, metadata_ttl)
        self._jwks: _Cache[KeySet] = _Cache(clock, metadata_ttl)

    # -- the authorization request ---------------------------------------------------------
    async def start(self, login: UpstreamLogin) -> UpstreamRedirect:
        """`relay_state` is SAML's; OIDC's own `state` (made here) does its job."""
        metadata = await self._metadata.get(self._fetch_metadata)
        saved = _Saved(
            idp=self._idp.id,
            state=secrets.token_urlsafe(32),  # 256 bits each
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),  # RFC 7636 §4.1: 43 to 128 characters
            redirect_uri=login.redirect_uri,
            prompt=tuple(p for p in login.prompt if p in FORWARDED_PROMPTS),
            max_age=login.max_age,
            acr_values=login.acr_values,
            started_at=self._clock.now(),
        )
        params = self._authorization_params(saved, login.login_hint, login.ui_locales)
        url = httpx.URL(metadata.authorization_endpoint).copy_merge_params(params)
        log.info("idp %s: authorization request ready", self._idp.id)
        return UpstreamRedirect(str(url), as_json(saved))

    def _authorization_params(
        self, saved: _Saved, login_hint: str | None, ui_locales: str | None
    ) -> dict[str, str]:
        scopes = dict.fromkeys(("openid", *self._oidc.scopes))
        optional = {
            "prompt": " ".join(saved.prompt),
            "max_age": "" if saved.max_age is None else str(saved.max_age),
            "login_hint": login_hint or "",
            "acr_values": " ".join(self._idp.claims.upstream_acr(saved.acr_values)),
            "ui_locales": ui_locales or "",
        }
        return {
            "response_type": "code",
            "client_id": self._oidc.client_id,
            "redirect_uri": saved.redirect_uri,
            "scope": " ".join(scopes),
            "state": saved.state,
            "nonce": saved.nonce,
            "code_challenge": b64(hashlib.sha256(saved.code_verifier.encode()).digest()),
            "code_challenge_method": "S256",
            **{key: value for key, value in optional.items() if value},
        }

    # -- the callback ----------------------------------------------------------------------
    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity:
        expected = _Saved.from_dict(saved, self._idp.id)
        metadata = await self._metadata.get(self._fetch_metadata)
        code = self._check_callback(params, expected, metadata)
        tokens = await self._redeem(metadata, code, expected)
        header, claims = await self._verified_id_token(tokens.id_token)
        now = self._clock.now()
        problem = id_token_problem(
            claims,
            issuer=self._oidc.issuer,
            client_id=self._oidc.client_id,
            nonce=expected.nonce,
            now=now,
            skew=self._skew,
        ) or at_hash_problem(claims, header.get("alg"), tokens.access_token)
        if problem:
            raise UpstreamResponseError(f"{self._idp.id}: id_token {problem}")
        acr = self._idp.claims.broker_acr(claims.get("acr"), self._idp.default_acr)
        auth_time = claims.get("auth_time")
        if unmet := requirement_problem(expected, auth_time, acr, now=now, skew=self._skew):
            raise UpstreamRequirementError(f"{self._idp.id}: {unmet}")
        profile = await self._profile(metadata, claims, tokens.access_token)
        log.info("idp %s: login verified (acr %s)", self._idp.id, acr)
        return RawIdentity(
            idp_id=self._idp.id,
            issuer=self._oidc.issuer,
            subject=claims["sub"],
            claims=profile,
            acr=acr,
            amr=tuple(claims.get("amr") or ()),
            auth_time=None if auth_time is None else float(auth_time),
        )

    def _check_callback(self, params: Mapping[str, str], saved: _Saved, metadata: _Metadata) -> str:
        """The code, once the callback is known to answer our request (state first, so that a
        forged callback cannot even end the login with an error page of its choosing)."""
        idp = self._idp.id
        state = params.get("state")
        if not state or not hmac.compare_digest(state.encode(), saved.state.encode()):
            raise UpstreamResponseError(f"{idp}: callback state missing or not this login's")
        iss = params.get("iss")
        if iss is not None and iss != self._oidc.issuer:
            raise UpstreamResponseError(f"{idp}: callback iss is not the issuer (RFC 9207)")
        if iss is None and metadata.iss_parameter_required:
            raise UpstreamResponseError(f"{idp}: callback without iss (RFC 9207)")
        if "error" in params:
            raise UpstreamDeniedError(f"{idp}: IdP answered error={_error_code(params['error'])}")
        code = params.get("code")
        if not code:
            raise UpstreamResponseError(f"{idp}: callback without code")
        return code

    async def _redeem(self, metadata: _Metadata, code: str, saved: _Saved) -> _Tokens:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": saved.redirect_uri,
            "code_verifier": saved.code_verifier,
        }
        auth: httpx.BasicAuth | None = None
        client_id, secret = self._oidc.client_id, self._secret
        if self._oidc.token_endpoint_auth_method == "client_secret_post":  # noqa: S105
            form.update(client_id=client_id, client_secret=secret)
        else:  # RFC 6749 §2.3.1: both form-encoded before Basic
            auth = httpx.BasicAuth(quote(client_id, safe=""), quote(secret, safe=""))
        endpoint = metadata.token_endpoint
        body = await self._fetch_json("token", "POST", endpoint, data=form, auth=auth)
        id_token, access_token = body.get("id_token"), body.get("access_token")
        token_type = body.get("token_type")
        if not isinstance(id_token, str) or not id_token:
            raise UpstreamResponseError(f"{self._idp.id}: token response without id_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamResponseError(f"{self._idp.id}: token response without access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise UpstreamResponseError(f"{self._idp.id}: token_type is not Bearer")
        return _Tokens(id_token, access_token)

    async def _verified_id_token(self, id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of an ID token whose signature the IdP's JWKS verifies."""
        idp = self._idp.id
        for refresh in (False, True):
            keys = await self._jwks.get(self._fetch_jwks, refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=list(self._oidc.id_token_algs))
            except InvalidKeyIdError as exc:
                if refresh:
                    raise UpstreamResponseError(f"{idp}: id_token kid unknown") from exc
                log.info("idp %s: id_token kid not in the cached JWKS; fetching it again", idp)
                continue
            except UnsupportedAlgorithmError as exc:
                raise UpstreamResponseError(f"{idp}: id_token alg not allowed") from exc
            except BadSignatureError as exc:
                raise UpstreamResponseError(f"{idp}: id_token signature invalid") from exc
            except (JoseError, ValueError) as exc:
                raise UpstreamResponseError(f"{idp}: id_token malformed") from exc
            return dict(token.header), dict(token.claims)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _profile(
        self, metadata: _Metadata, claims: dict[str, Any], access_token: str
    ) -> dict[str, Any]:
        """ID token claims without the token mechanics, and userinfo's profile claims over them."""
        profile = {k: v for k, v in claims.items() if k not in TOKEN_CLAIMS}
        if not (self._oidc.use_userinfo and metadata.userinfo_endpoint):
            return profile
        info = await self._fetch_json(
            "userinfo",
            "GET",
            metadata.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if info.get("sub") != claims["sub"]:
            raise UpstreamResponseError(f"{self._idp.id}: userinfo sub is not the id_token sub")
        profile.update((k, v) for k, v in info.items() if k not in PROTOCOL_CLAIMS)
        return profile

    # -- discovery, keys and HTTP ----------------------------------------------------------
    async def _fetch_metadata(self) -> _Metadata:
        doc = await self._fetch_json("discovery", "GET", self._oidc.metadata_url)
        if doc.get("issuer") != self._oidc.issuer:
            raise UpstreamResponseError(f"{self._idp.id}: discovery issuer is not the issuer")
        urls = {k: v for k in _ENDPOINTS if isinstance(v := doc.get(k), str) and v}
        if missing := [k for k in _ENDPOINTS[:3] if k not in urls]:
            raise UpstreamUnavailableError(f"{self._idp.id}: discovery without {missing[0]}")
        if self._https_only and (plain := [k for k, v in urls.items() if not is_https(v)]):
            raise UpstreamResponseError(f"{self._idp.id}: discovery: {plain[0]} is not https")
        iss_parameter = doc.get("authorization_response_iss_parameter_supported") is True
        log.info("idp %s: discovery document fetched", self._idp.id)
        return _Metadata(
            authorization_endpoint=urls["authorization_endpoint"],
            token_endpoint=urls["token_endpoint"],
            jwks_uri=urls["jwks_uri"],
            userinfo_endpoint=urls.get("userinfo_endpoint"),
            iss_parameter_required=iss_parameter,
        )

    async def _fetch_jwks(self) -> KeySet:
        metadata = await self._metadata.get(self._fetch_metadata)
        doc = await self._fetch_json("jwks", "GET", metadata.jwks_uri)
        try:
            keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailableError(f"{self._idp.id}: jwks is not a JWK Set") from exc
        log.info("idp %s: JWKS fetched", self._idp.id)
        return keys

    async def _fetch_json(self, what: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object from the IdP. Down, slow, 5xx or not JSON: unavailable. A 4xx with an
        OAuth error: an answer that failed (the detail keeps only the error code)."""
        idp = self._idp.id
        try:
            response = await self._http.request(method, url, timeout=self._timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{idp}: {what}: {type(exc).__name__}") from exc
        status = response.status_code
        if status >= 500 or status < 200 or 300 <= status < 400:
            raise UpstreamUnavailableError(f"{idp}: {what}: HTTP {status}")
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamUnavailableError(f"{idp}: {what}: HTTP {status}, not JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamUnavailableError(f"{idp}: {what}: HTTP {status}, not a JSON object")
        if status >= 400:
            code = _error_code(body.get("error"))
            raise UpstreamResponseError(f"{idp}: {what}: HTTP {status}, error={code}")
        return body


def _error_code(value: Any) -> str:
    """An OAuth error code fit for the log: the code itself, or a placeholder if it is odd."""
    return value if isinstance(value, str) and _ERROR_CODE.fullmatch(value) else "(unrecognised)"


def jwks_signing_keys(doc: Mapping[str, Any]) -> list[str]:
    """The key ids (or "-") of the usable signing keys in a JWK Set (`sote-broker idps check`):
    RSA or EC, not marked for encryption; none if it is not a JWK Set."""
    try:
        keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        return []
    return [
        str(key.kid or "-")
        for key in keys.keys
        if key.key_type in ("RSA", "EC") and key.get("use", "sig") == "sig"
    ]
