"""OIDCConnector's checks for answers the mock organisation IdP never gives.

A tiny OP in this module answers through httpx.MockTransport (in process), so that each test can
break exactly one thing: a claim, the signing algorithm, the key id, userinfo, an HTTP status.
The end-to-end behaviour against a real OP is in test_oidc_connector.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from broker.clock import FrozenClock
from broker.errors import (
    TransactionError,
    UpstreamDeniedError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.oidc import OIDCConnector, UpstreamRedirect, jwks_signing_keys
from broker.upstream.oidc_checks import at_hash_problem, id_token_problem, requirement_problem
from broker.upstream.registry import IdP

ISSUER = "https://op.example/org"
CLIENT_ID = "sote-broker"
SECRET = "s3cret with space:and%colon"
CALLBACK = "https://broker.example/upstream/oidc/callback"


class FakeOP:
    """Discovery, JWKS, token and userinfo of one OP; tests change what it says."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
        self.discovery: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "userinfo_endpoint": f"{ISSUER}/userinfo",
        }
        self.nonce = ""
        self.claims: dict[str, Any] = {}
        self.header: dict[str, Any] = {}
        self.sign_with: Any = None
        self.token_response: httpx.Response | None = None
        self.token_extra: dict[str, Any] = {}
        self.userinfo: dict[str, Any] = {"sub": "person-1", "email": "p@example.fi"}
        self.userinfo_status = 200
        self.jwks: dict[str, Any] | None = None
        self.jwks_status = 200
        self.on_token: Any = None
        self.requests: list[httpx.Request] = []
        self.access_token = "at-" + "x" * 40

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/org")
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if path == "/jwks":
            keys = {"keys": [self.key.as_dict(private=False)]}
            return httpx.Response(self.jwks_status, json=self.jwks or keys)
        if path == "/token":
            if self.on_token:
                self.on_token()
            return self.token_response or httpx.Response(200, json=self.tokens())
        if path == "/userinfo":
            return httpx.Response(self.userinfo_status, json=self.userinfo)
        return httpx.Response(404)

    def tokens(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(),
            **self.token_extra,
        }

    def id_token(self) -> str:
        now = int(self.clock.now())
        digest = hashlib.sha256(self.access_token.encode()).digest()
        claims = {
            "iss": ISSUER,
            "sub": "person-1",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "auth_time": now - 5,
            "nonce": self.nonce,
            "acr": "urn:op:mfa",
            "amr": ["pwd", "otp"],
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
            "name": "Pia Potilas",
        }
        claims = {k: v for k, v in {**claims, **self.claims}.items() if v is not DROP}
        header = {"alg": "RS256", "kid": "k1", **self.header}
        key = self.sign_with or self.key
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])


DROP = object()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(time.time())


@pytest.fixture
def op(clock: FrozenClock) -> FakeOP:
    return FakeOP(clock)


@pytest.fixture
async def http(op: FakeOP) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(op.handle)) as client:
        yield client


def make_idp(**oidc: Any) -> IdP:
    return IdP.model_validate(
        {
            "id": "org",
            "names": {"fi": "Org", "sv": "Org", "en": "Org"},
            "route": "organisation",
            "protocol": "oidc",
            "default_acr": "loa2",
            "oidc": {
                "issuer": ISSUER,
                "client_id": CLIENT_ID,
                "client_secret": {"value": SECRET},
                **oidc,
            },
            "claims": {"acr_values": {"urn:op:mfa": "loa3"}},
        }
    )


@pytest.fixture
def connector(http: httpx.AsyncClient, clock: FrozenClock) -> OIDCConnector:
    return OIDCConnector(make_idp(), http, clock, client_secret=SECRET)


async def started(connector: OIDCConnector, op: FakeOP, **options: Any) -> UpstreamRedirect:
    redirect = await connector.start(UpstreamLogin(redirect_uri=CALLBACK, **options))
    op.nonce = dict(parse_qsl(urlsplit(redirect.url).query))["nonce"]
    return redirect


def callback(redirect: UpstreamRedirect, **extra: str) -> dict[str, str]:
    return {"code": "the-code", "state": redirect.saved["state"], **extra}


async def login(connector: OIDCConnector, op: FakeOP, **options: Any) -> Any:
    redirect = await started(connector, op, **options)
    return await connector.finish(callback(redirect), redirect.saved)


async def test_baseline_login(connector: OIDCConnector, op: FakeOP) -> None:
    raw = await login(connector, op)
    assert (raw.subject, raw.acr, raw.amr) == ("person-1", "loa3", ("pwd", "otp"))
    assert raw.claims["email"] == "p@example.fi"


async def test_token_request(connector: OIDCConnector, op: FakeOP) -> None:
    redirect = await started(connector, op)
    await connector.finish(callback(redirect), redirect.saved)
    token_request = next(r for r in op.requests if r.url.path.endswith("/token"))
    form = dict(parse_qsl(token_request.content.decode()))
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": CALLBACK,
        "code_verifier": redirect.saved["code_verifier"],
    }
    verifier_hash = hashlib.sha256(redirect.saved["code_verifier"].encode()).digest()
    challenge = dict(parse_qsl(urlsplit(redirect.url).query))["code_challenge"]
    assert challenge == base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode()
    scheme, _, encoded = token_request.headers["authorization"].partition(" ")
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    assert (scheme, unquote(client_id), unquote(secret)) == ("Basic", CLIENT_ID, SECRET)
    assert ":" not in secret  # RFC 6749 §2.3.1: form-encoded before Basic
    userinfo = next(r for r in op.requests if r.url.path.endswith("/userinfo"))
    assert userinfo.headers["authorization"] == f"Bearer {op.access_token}"


@pytest.mark.parametrize(
    ("claims", "check"),
    [
        ({"iss": ISSUER + "/"}, "iss"),
        ({"aud": "someone-else"}, "aud"),
        ({"aud": ["someone-else", "another"]}, "aud"),
        ({"aud": [CLIENT_ID, "another"]}, "azp"),
        ({"aud": [CLIENT_ID, "another"], "azp": "another"}, "azp"),
        ({"azp": "another"}, "azp"),
        ({"exp": DROP}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"iat": DROP}, "iat"),
        ({"nonce": DROP}, "nonce"),
        ({"nonce": "another"}, "nonce"),
        ({"nonce": "nön-ascii"}, "nonce"),
        ({"sub": DROP}, "sub"),
        ({"sub": ""}, "sub"),
        ({"auth_time": "yesterday"}, "auth_time"),
        ({"acr": 3}, "acr"),
        ({"amr": "pwd"}, "amr"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash"),
    ],
)
async def test_id_token_claim_checks(
    connector: OIDCConnector, op: FakeOP, claims: dict[str, Any], check: str
) -> None:
    op.claims = claims
    with pytest.raises(UpstreamResponseError, match=f"org: id_token {check}"):
        await login(connector, op)


async def test_expiry_and_issue_time_allow_the_clock_skew(
    connector: OIDCConnector, op: FakeOP, clock: FrozenClock
) -> None:
    now = int(clock.now())
    op.claims = {"exp": now - 30, "iat": now + 30, "nbf": now + 30}
    await login(connector, op)
    for claims, check in (
        ({"exp": now - 61}, "exp"),
        ({"iat": now + 61}, "iat"),
        ({"nbf": now + 61}, "nbf"),
    ):
        op.claims = claims
        with pytest.raises(UpstreamResponseError, match=check):
            await login(connector, op)


async def test_several_audiences_with_azp_are_accepted(
    connector: OIDCConnector, op: FakeOP
) -> None:
    op.claims = {"aud": [CLIENT_ID, "another"], "azp": CLIENT_ID}
    assert (await login(connector, op)).subject == "person-1"


async def test_at_hash_is_optional(connector: OIDCConnector, op: FakeOP) -> None:
    op.claims = {"at_hash": DROP}
    assert (await login(connector, op)).subject == "person-1"


async def test_unsigned_id_token_is_refused(connector: OIDCConnector, op: FakeOP) -> None:
    redirect = await started(connector, op)
    good = op.id_token()
    _, payload, _ = good.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    op.token_extra = {"id_token": f"{header}.{payload}."}
    with pytest.raises(UpstreamResponseError, match="alg not allowed"):
        await connector.finish(callback(redirect), redirect.saved)


async def test_hmac_with_the_public_key_is_refused(connector: OIDCConnector, op: FakeOP) -> None:
    """Algorithm confusion: HS256 keyed with the OP's public key material."""
    public = json.dumps(op.key.as_dict(private=False)).encode()
    op.header = {"alg": "HS256"}
    op.sign_with = OctKey.import_key(public)
    with pytest.raises(UpstreamResponseError, match="alg not allowed"):
        await login(connector, op)


async def test_algorithm_not_configured_is_refused(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    connector = OIDCConnector(make_idp(id_token_algs=["ES256"]), http, clock, client_secret=SECRET)
    with pytest.raises(UpstreamResponseError, match="alg not allowed"):
        await login(connector, op)


async def test_unknown_kid_refetches_the_jwks_once_then_fails(
    connector: OIDCConnector, op: FakeOP
) -> None:
    await login(connector, op)
    op.header = {"kid": "k2"}
    op.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    with pytest.raises(UpstreamResponseError, match="kid unknown"):
        await login(connector, op)
    assert sum(r.url.path.endswith("/jwks") for r in op.requests) == 2


async def test_key_of_the_wrong_type_under_a_known_kid_is_refused(
    connector: OIDCConnector, op: FakeOP
) -> None:
    op.header = {"alg": "ES256"}
    op.sign_with = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    with pytest.raises(UpstreamResponseError, match="id_token kid unknown"):
        await login(connector, op)


@pytest.mark.parametrize(
    ("response", "error", "detail"),
    [
        (httpx.Response(503, text="busy"), UpstreamUnavailableError, "HTTP 503"),
        (httpx.Response(200, json=["not", "an", "object"]), UpstreamUnavailableError, "object"),
        (httpx.Response(302, headers={"location": "/x"}), UpstreamUnavailableError, "HTTP 302"),
        (
            httpx.Response(400, json={"error": "invalid_grant"}),
            UpstreamResponseError,
            "invalid_grant",
        ),
        (
            httpx.Response(401, json={"error": "invalid_client"}),
            UpstreamResponseError,
            "invalid_client",
        ),
        (httpx.Response(400, text="<html>"), UpstreamUnavailableError, "not JSON"),
    ],
)
async def test_token_endpoint_answers(
    connector: OIDCConnector,
    op: FakeOP,
    response: httpx.Response,
    error: type[Exception],
    detail: str,
) -> None:
    op.token_response = response
    with pytest.raises(error, match=detail):
        await login(connector, op)


@pytest.mark.parametrize(
    ("extra", "check"),
    [({"token_type": "DPoP"}, "token_type"), ({"access_token": None}, "access_token")],
)
async def test_token_response_fields(
    connector: OIDCConnector, op: FakeOP, extra: dict[str, Any], check: str
) -> None:
    op.token_extra = extra
    with pytest.raises(UpstreamResponseError, match=check):
        await login(connector, op)


async def test_userinfo_of_another_person_is_refused(connector: OIDCConnector, op: FakeOP) -> None:
    op.userinfo = {"sub": "person-2", "email": "other@example.fi"}
    with pytest.raises(UpstreamResponseError, match="userinfo sub"):
        await login(connector, op)


async def test_userinfo_cannot_override_what_the_id_token_says(
    connector: OIDCConnector, op: FakeOP
) -> None:
    op.userinfo = {
        "sub": "person-1",
        "name": "From Userinfo",
        "acr": "urn:op:weak",
        "iss": "https://evil.example",
        "auth_time": 1,
        "title": "Lääkäri",
    }
    raw = await login(connector, op)
    assert raw.claims["name"] == "From Userinfo"
    assert raw.claims["title"] == "Lääkäri"
    assert raw.claims["acr"] == "urn:op:mfa" and raw.acr == "loa3"
    assert raw.claims["auth_time"] != 1
    assert "iss" not in raw.claims


async def test_userinfo_down_is_unavailable(connector: OIDCConnector, op: FakeOP) -> None:
    op.userinfo_status = 500
    with pytest.raises(UpstreamUnavailableError) as caught:
        await login(connector, op)
    assert caught.value.detail == "org: userinfo: HTTP 500"


async def test_discovery_without_an_endpoint_is_unavailable(
    connector: OIDCConnector, op: FakeOP
) -> None:
    del op.discovery["token_endpoint"]
    with pytest.raises(UpstreamUnavailableError, match="token_endpoint"):
        await connector.start(UpstreamLogin(redirect_uri=CALLBACK))


async def test_callback_iss_is_optional_unless_advertised(
    connector: OIDCConnector, op: FakeOP
) -> None:
    redirect = await started(connector, op)
    with pytest.raises(UpstreamResponseError, match="callback iss"):
        await connector.finish(callback(redirect, iss=ISSUER + "x"), redirect.saved)
    raw = await connector.finish(callback(redirect, iss=ISSUER), redirect.saved)
    assert raw.subject == "person-1"


async def test_missing_acr_means_the_default_acr(connector: OIDCConnector, op: FakeOP) -> None:
    op.claims = {"acr": DROP}
    assert (await login(connector, op)).acr == "loa2"
    with pytest.raises(UpstreamRequirementError, match="acr loa2"):
        await login(connector, op, acr_values=["loa3"])


async def test_fresh_login_needs_auth_time(connector: OIDCConnector, op: FakeOP) -> None:
    op.claims = {"auth_time": DROP}
    assert (await login(connector, op)).auth_time is None
    with pytest.raises(UpstreamRequirementError, match="auth_time"):
        await login(connector, op, prompt=["login"])
    with pytest.raises(UpstreamRequirementError, match="auth_time"):
        await login(connector, op, max_age=600)


async def test_nothing_secret_or_personal_is_logged(
    connector: OIDCConnector, op: FakeOP, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="broker.upstream.oidc"):
        redirect = await started(connector, op, login_hint="pia@example.fi")
        raw = await connector.finish(callback(redirect), redirect.saved)
        op.claims = {"nonce": "another"}
        failed = await started(connector, op)
        with pytest.raises(UpstreamResponseError) as caught:
            await connector.finish(callback(failed), failed.saved)
    logged = caplog.text + caught.value.detail
    assert "org: login verified" in caplog.text
    secrets = [
        *(redirect.saved[k] for k in ("state", "nonce", "code_verifier")),
        "the-code",
        op.access_token,
        "pia@example.fi",
        raw.subject,
        "Pia Potilas",
        "eyJ",
    ]
    assert not [s for s in secrets if s in logged]


async def test_userinfo_is_asked_only_when_configured_and_advertised(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    """The ID token's claims alone: userinfo turned off for the IdP, or not in its discovery."""
    off = OIDCConnector(make_idp(use_userinfo=False), http, clock, client_secret=SECRET)
    assert "email" not in (await login(off, op)).claims
    del op.discovery["userinfo_endpoint"]
    unadvertised = OIDCConnector(make_idp(), http, clock, client_secret=SECRET)
    raw = await login(unadvertised, op)
    assert raw.claims == {
        "sub": "person-1",
        "auth_time": int(clock.now()) - 5,
        "acr": "urn:op:mfa",
        "amr": ["pwd", "otp"],
        "name": "Pia Potilas",
    }
    assert not [r for r in op.requests if r.url.path.endswith("/userinfo")]


def test_the_signing_keys_of_a_jwk_set() -> None:
    """`sote-broker idps check`: RSA and EC keys not marked for encryption, by kid (joserfc
    names a key without one by its RFC 7638 thumbprint)."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r1"}).as_dict(private=False)
    ec_key = ECKey.generate_key("P-256")
    ec = {k: v for k, v in ec_key.as_dict(private=False).items() if k != "kid"}
    encrypting = RSAKey.generate_key(2048, parameters={"kid": "e1", "use": "enc"})
    signing = RSAKey.generate_key(2048, parameters={"kid": "s1", "use": "sig"})
    octet = OctKey.generate_key(256, parameters={"kid": "o1"}).as_dict(private=True)
    keys = [rsa, ec, encrypting.as_dict(private=False), signing.as_dict(private=False), octet]
    assert jwks_signing_keys({"keys": keys}) == ["r1", ec_key.thumbprint(), "s1"]
    assert jwks_signing_keys({"keys": [{"kty": "RSA"}]}) == []
    assert jwks_signing_keys({"keys": "none"}) == []
    assert jwks_signing_keys({}) == []


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        ("temporarily_unavailable", "temporarily_unavailable"),
        ("x" * 65, "(unrecognised)"),
        ("a b", "(unrecognised)"),
    ],
)
async def test_the_idps_error_code_is_logged_only_when_it_looks_like_one(
    connector: OIDCConnector, op: FakeOP, error: str, logged: str
) -> None:
    redirect = await started(connector, op)
    with pytest.raises(UpstreamDeniedError) as caught:
        await connector.finish({"error": error, "state": redirect.saved["state"]}, redirect.saved)
    assert caught.value.detail == f"org: IdP answered error={logged}"


# -- the checks themselves, at their edges (oidc_checks.py) ----------------------------------------
NOW = 1_800_000_000
NONCE = "n-0S6_WzA2Mj"


def good_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "person-1",
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": NONCE,
    }
    return {k: v for k, v in {**claims, **changes}.items() if v is not DROP}


def problem(**changes: Any) -> str | None:
    claims = good_claims(**changes)
    return id_token_problem(
        claims, issuer=ISSUER, client_id=CLIENT_ID, nonce=NONCE, now=NOW, skew=60
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"exp": NOW - 59},
        {"iat": NOW + 60},
        {"nbf": NOW + 60},
        {"nbf": None},
        {"exp": NOW + 0.5, "iat": NOW - 0.5},
        {"aud": [CLIENT_ID]},
        {"aud": [CLIENT_ID, "another"], "azp": CLIENT_ID},
        {"azp": CLIENT_ID},
        {"auth_time": NOW - 5, "acr": "loa3", "amr": ["pwd", "otp"]},
        {"auth_time": 1.5, "amr": []},
    ],
)
def test_id_token_claims_that_pass(changes: dict[str, Any]) -> None:
    assert problem(**changes) is None


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"iss": DROP}, "iss is not the issuer"),
        ({"aud": 5}, "aud does not contain the client_id"),
        ({"aud": {CLIENT_ID: 1}}, "aud does not contain the client_id"),
        ({"aud": []}, "aud does not contain the client_id"),
        ({"aud": [CLIENT_ID, CLIENT_ID]}, "azp is not the client_id"),
        ({"exp": NOW - 60}, "exp missing or passed"),
        ({"exp": True}, "exp missing or passed"),
        ({"iat": NOW + 61}, "iat missing or in the future"),
        ({"iat": True}, "iat missing or in the future"),
        ({"iat": "0"}, "iat missing or in the future"),
        ({"nbf": NOW + 61}, "nbf in the future"),
        ({"nbf": "0"}, "nbf in the future"),
        ({"nonce": 5}, "nonce missing or not this login's"),
        ({"nonce": NONCE + "x"}, "nonce missing or not this login's"),
        ({"sub": 5}, "sub missing"),
        ({"auth_time": None}, "auth_time not a number"),
        ({"auth_time": False}, "auth_time not a number"),
        ({"acr": None}, "acr not a string"),
        ({"amr": None}, "amr not strings"),
        ({"amr": ["pwd", 1]}, "amr not strings"),
    ],
)
def test_each_id_token_check_names_itself(changes: dict[str, Any], name: str) -> None:
    assert problem(**changes) == name


def test_the_first_failed_check_is_named() -> None:
    assert problem(iss="x", aud="y", sub=DROP) == "iss is not the issuer"
    assert problem(exp=NOW - 61, sub=DROP) == "exp missing or passed"


def left_half(alg_hash: str, token: str) -> str:
    digest = hashlib.new(alg_hash, token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("alg", "hash_name"),
    [
        ("RS256", "sha256"),
        ("ES256", "sha256"),
        ("PS384", "sha384"),
        ("ES384", "sha384"),
        ("RS512", "sha512"),
        ("EdDSA", "sha512"),
    ],
)
def test_at_hash_uses_the_hash_of_the_alg(alg: str, hash_name: str) -> None:
    token = "at-" + "y" * 40
    assert at_hash_problem({"at_hash": left_half(hash_name, token)}, alg, token) is None
    other = "sha256" if hash_name != "sha256" else "sha384"
    wrong = {"at_hash": left_half(other, token)}
    assert at_hash_problem(wrong, alg, token) == "at_hash does not match the access token"


def test_at_hash_refusals() -> None:
    token = "at-" + "y" * 40
    good = left_half("sha256", token)
    assert at_hash_problem({}, "RS256", token) is None
    assert at_hash_problem({"at_hash": good}, "HS1", token) == "at_hash with an unknown alg"
    assert at_hash_problem({"at_hash": good}, None, token) == "at_hash with an unknown alg"
    unmatched = "at_hash does not match the access token"
    assert at_hash_problem({"at_hash": good + "A"}, "RS256", token) == unmatched
    assert at_hash_problem({"at_hash": 5}, "RS256", token) == unmatched
    # a token outside ASCII (RFC 6750 allows none) is hashed with "?" for each odd character
    assert at_hash_problem({"at_hash": left_half("sha256", "t?k")}, "RS256", "tök") is None


@dataclass(frozen=True)
class Asked:
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()
    started_at: float = NOW - 100


def unmet(asked: Asked, auth_time: Any, acr: str | None = "loa2") -> str | None:
    return requirement_problem(asked, auth_time, acr, now=NOW, skew=60)


def test_what_the_portal_asked_at_its_edges() -> None:
    login, aged = Asked(prompt=("login",)), Asked(max_age=600)
    assert unmet(Asked(), None) is None
    assert unmet(Asked(prompt=("consent",)), None) is None
    assert unmet(login, NOW - 160) is None  # started 100 s ago, 60 s of skew
    assert unmet(login, NOW - 161) == (
        "prompt=login, but the IdP did not authenticate the person again"
    )
    assert unmet(login, None) == "no auth_time, though prompt=login or max_age was asked"
    assert unmet(aged, "1") == "no auth_time, though prompt=login or max_age was asked"
    assert unmet(Asked(max_age=0), NOW - 60) is None
    assert unmet(aged, NOW - 660) is None
    assert unmet(aged, NOW - 661) == "authentication older than max_age"
    assert unmet(Asked(prompt=("login",), max_age=10), NOW - 71) == (
        "authentication older than max_age"
    )
    assert unmet(aged, NOW - 10_000, "loa2") == "authentication older than max_age"


def test_acr_must_be_among_the_requested() -> None:
    assert unmet(Asked(acr_values=("loa2", "loa3")), None, "loa3") is None
    asked = Asked(acr_values=("loa3",))
    assert unmet(asked, None, "loa2") == "acr loa2 is not among the requested acr_values"
    assert unmet(asked, None, None) == "acr None is not among the requested acr_values"


# -- the connector's refusals, each by its exact detail (what the log says about the IdP) ---------
def detail_of(caught: pytest.ExceptionInfo[Exception]) -> str:
    return str(getattr(caught.value, "detail", caught.value))


async def test_the_authorization_request_carries_256_bits_and_a_long_verifier(
    connector: OIDCConnector, op: FakeOP
) -> None:
    redirect = await started(connector, op)
    saved = redirect.saved
    assert (len(saved["state"]), len(saved["nonce"]), len(saved["code_verifier"])) == (43, 43, 64)
    query = dict(parse_qsl(urlsplit(redirect.url).query))
    assert query["scope"] == "openid profile email"  # the defaults, openid first
    assert redirect.url.startswith(f"{ISSUER}/authorize?")


async def test_openid_is_asked_first_even_if_not_configured(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    idp = make_idp(scopes=["email", "openid", "email"])
    connector = OIDCConnector(idp, http, clock, client_secret=SECRET)
    query = dict(parse_qsl(urlsplit((await started(connector, op)).url).query))
    assert query["scope"] == "openid email"
    assert "max_age" not in query
    zero = await started(connector, op, max_age=0)  # 0 asks for a new authentication
    assert dict(parse_qsl(urlsplit(zero.url).query))["max_age"] == "0"


async def test_client_secret_post_sends_the_credentials_in_the_form_only(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    idp = make_idp(token_endpoint_auth_method="client_secret_post")
    await login(OIDCConnector(idp, http, clock, client_secret=SECRET), op)
    request = next(r for r in op.requests if r.url.path.endswith("/token"))
    form = dict(parse_qsl(request.content.decode()))
    assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, SECRET)
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("saved", "why"),
    [
        ({"nonce": ""}, "malformed"),
        ({"state": 5}, "malformed"),
        ({"redirect_uri": None}, "malformed"),
        ({"idp": "another"}, "for another"),
    ],
)
async def test_saved_state_that_is_not_this_connectors_is_refused(
    connector: OIDCConnector, op: FakeOP, saved: dict[str, Any], why: str
) -> None:
    redirect = await started(connector, op)
    with pytest.raises(TransactionError) as caught:
        await connector.finish(callback(redirect), {**redirect.saved, **saved})
    expected = {
        "malformed": "org: saved upstream login state is malformed",
        "for another": "org: saved upstream login state is for another",
    }
    assert detail_of(caught) == expected[why]


@pytest.mark.parametrize(
    ("params", "error", "detail"),
    [
        ({"state": ""}, UpstreamResponseError, "org: callback state missing or not this login's"),
        (
            {"iss": ISSUER + "/"},
            UpstreamResponseError,
            "org: callback iss is not the issuer (RFC 9207)",
        ),
        ({"code": ""}, UpstreamResponseError, "org: callback without code"),
        ({"error": "access_denied"}, UpstreamDeniedError, "org: IdP answered error=access_denied"),
    ],
)
async def test_callback_refusals(
    connector: OIDCConnector,
    op: FakeOP,
    params: dict[str, str],
    error: type[Exception],
    detail: str,
) -> None:
    redirect = await started(connector, op)
    with pytest.raises(error) as caught:
        await connector.finish({**callback(redirect), **params}, redirect.saved)
    assert detail_of(caught) == detail


async def test_an_advertised_iss_parameter_is_required(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    op.discovery["authorization_response_iss_parameter_supported"] = "true"  # not JSON true
    loose = OIDCConnector(make_idp(), http, clock, client_secret=SECRET)
    assert (await login(loose, op)).subject == "person-1"
    op.discovery["authorization_response_iss_parameter_supported"] = True
    strict = OIDCConnector(make_idp(), http, clock, client_secret=SECRET)
    redirect = await started(strict, op)
    with pytest.raises(UpstreamResponseError) as caught:
        await strict.finish(callback(redirect), redirect.saved)
    assert detail_of(caught) == "org: callback without iss (RFC 9207)"
    assert (await strict.finish(callback(redirect, iss=ISSUER), redirect.saved)).subject


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"id_token": ""}, "org: token response without id_token"),
        ({"id_token": 5}, "org: token response without id_token"),
        ({"access_token": ""}, "org: token response without access_token"),
        ({"access_token": 5}, "org: token response without access_token"),
        ({"token_type": None}, "org: token_type is not Bearer"),
        ({"token_type": "mac"}, "org: token_type is not Bearer"),
        ({"id_token": "not.a.jwt"}, "org: id_token malformed"),
    ],
)
async def test_token_response_refusals(
    connector: OIDCConnector, op: FakeOP, extra: dict[str, Any], detail: str
) -> None:
    op.token_extra = extra
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == detail


async def test_token_type_is_case_insensitive(connector: OIDCConnector, op: FakeOP) -> None:
    op.token_extra = {"token_type": "bearer"}  # RFC 6749 §5.1
    assert (await login(connector, op)).subject == "person-1"


async def test_signature_refusals_by_their_detail(connector: OIDCConnector, op: FakeOP) -> None:
    op.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: id_token signature invalid"
    op.header = {"alg": "HS256"}
    op.sign_with = OctKey.generate_key(256, parameters={"kid": "k1"})
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: id_token alg not allowed"
    op.sign_with, op.header = RSAKey.generate_key(2048, parameters={"kid": "k9"}), {"kid": "k9"}
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: id_token kid unknown"
    op.header, op.sign_with, op.claims = {}, None, {"aud": "x"}
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: id_token aud does not contain the client_id"


async def test_requirement_refusal_detail(connector: OIDCConnector, op: FakeOP) -> None:
    with pytest.raises(UpstreamRequirementError) as caught:
        await login(connector, op, acr_values=["loa4"])
    assert detail_of(caught) == "org: acr loa3 is not among the requested acr_values"


async def test_userinfo_of_another_person_detail(connector: OIDCConnector, op: FakeOP) -> None:
    op.userinfo = {"sub": "person-2"}
    with pytest.raises(UpstreamResponseError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: userinfo sub is not the id_token sub"


@pytest.mark.parametrize(
    ("change", "error", "detail"),
    [
        (
            {"issuer": ISSUER + "/"},
            UpstreamResponseError,
            "org: discovery issuer is not the issuer",
        ),
        (
            {"authorization_endpoint": ""},
            UpstreamUnavailableError,
            "org: discovery without authorization_endpoint",
        ),
        ({"token_endpoint": 5}, UpstreamUnavailableError, "org: discovery without token_endpoint"),
        ({"jwks_uri": None}, UpstreamUnavailableError, "org: discovery without jwks_uri"),
    ],
)
async def test_discovery_refusals(
    connector: OIDCConnector,
    op: FakeOP,
    change: dict[str, Any],
    error: type[Exception],
    detail: str,
) -> None:
    op.discovery.update(change)
    with pytest.raises(error) as caught:
        await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    assert detail_of(caught) == detail


async def test_production_takes_https_endpoints_and_refuses_a_plain_one(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    production = OIDCConnector(make_idp(), http, clock, client_secret=SECRET, https_only=True)
    assert (await login(production, op)).subject == "person-1"
    op.discovery["userinfo_endpoint"] = "http://op.example/org/userinfo"
    again = OIDCConnector(make_idp(), http, clock, client_secret=SECRET, https_only=True)
    with pytest.raises(UpstreamResponseError) as caught:
        await again.start(UpstreamLogin(redirect_uri=CALLBACK))
    assert detail_of(caught) == "org: discovery: userinfo_endpoint is not https"


async def test_a_jwks_that_is_not_a_jwk_set_is_unavailable(
    connector: OIDCConnector, op: FakeOP
) -> None:
    op.jwks = {"keys": [{"kty": "RSA"}]}
    with pytest.raises(UpstreamUnavailableError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: jwks is not a JWK Set"


@pytest.mark.parametrize(
    ("response", "error", "detail"),
    [
        (httpx.Response(300, json={}), UpstreamUnavailableError, "org: token: HTTP 300"),
        (httpx.Response(399, json={}), UpstreamUnavailableError, "org: token: HTTP 399"),
        (httpx.Response(199, json={}), UpstreamUnavailableError, "org: token: HTTP 199"),
        (httpx.Response(500, json={}), UpstreamUnavailableError, "org: token: HTTP 500"),
        (
            httpx.Response(499, json={"error": "slow_down"}),
            UpstreamResponseError,
            "org: token: HTTP 499, error=slow_down",
        ),
        (
            httpx.Response(400, json={"error": 5}),
            UpstreamResponseError,
            "org: token: HTTP 400, error=(unrecognised)",
        ),
        (httpx.Response(200, text="{"), UpstreamUnavailableError, "org: token: HTTP 200, not JSON"),
        (
            httpx.Response(200, json=[]),
            UpstreamUnavailableError,
            "org: token: HTTP 200, not a JSON object",
        ),
        (
            httpx.Response(299, json={}),
            UpstreamResponseError,
            "org: token response without id_token",
        ),
    ],
)
async def test_http_answers_by_status(
    connector: OIDCConnector,
    op: FakeOP,
    response: httpx.Response,
    error: type[Exception],
    detail: str,
) -> None:
    op.token_response = response
    with pytest.raises(error) as caught:
        await login(connector, op)
    assert detail_of(caught) == detail


async def test_an_unreachable_idp_is_named_by_the_failure(clock: FrozenClock, op: FakeOP) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        connector = OIDCConnector(make_idp(), http, clock, client_secret=SECRET)
        with pytest.raises(UpstreamUnavailableError) as caught:
            await connector.start(UpstreamLogin(redirect_uri=CALLBACK))
    assert detail_of(caught) == "org: discovery: ConnectError"


async def test_discovery_is_kept_for_exactly_its_ttl(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    connector = OIDCConnector(make_idp(), http, clock, client_secret=SECRET, metadata_ttl=600)

    def discoveries() -> int:
        return sum(r.url.path.endswith("/openid-configuration") for r in op.requests)

    await asyncio.gather(*(started(connector, op) for _ in range(3)))
    assert discoveries() == 1
    clock.advance(599)
    await started(connector, op)
    assert discoveries() == 1
    clock.advance(1)
    await started(connector, op)
    assert discoveries() == 2


async def test_what_the_log_says_of_a_login_and_of_a_key_rotation(
    connector: OIDCConnector, op: FakeOP, caplog: pytest.LogCaptureFixture
) -> None:
    """Operators follow an IdP's logins and key rotations by these lines (nothing personal)."""
    with caplog.at_level(logging.INFO, logger="broker.upstream.oidc"):
        await login(connector, op)
        op.key = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256"})
        op.header = {"kid": "k2"}
        await login(connector, op)
    assert [r.getMessage() for r in caplog.records] == [
        "idp org: discovery document fetched",
        "idp org: authorization request ready",
        "idp org: JWKS fetched",
        "idp org: login verified (acr loa3)",
        "idp org: authorization request ready",
        "idp org: id_token kid not in the cached JWKS; fetching it again",
        "idp org: JWKS fetched",
        "idp org: login verified (acr loa3)",
    ]


async def test_a_jwks_endpoint_down_is_named(connector: OIDCConnector, op: FakeOP) -> None:
    op.jwks_status = 503
    with pytest.raises(UpstreamUnavailableError) as caught:
        await login(connector, op)
    assert detail_of(caught) == "org: jwks: HTTP 503"


async def test_discovery_that_expires_during_a_login_is_fetched_again_for_the_keys(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    connector = OIDCConnector(make_idp(), http, clock, client_secret=SECRET, metadata_ttl=600)
    op.on_token = lambda: clock.advance(600)  # the TTL ends while the code is redeemed
    assert (await login(connector, op)).subject == "person-1"
    paths = [r.url.path.removeprefix("/org") for r in op.requests]
    assert paths == [
        "/.well-known/openid-configuration",
        "/token",
        "/.well-known/openid-configuration",
        "/jwks",
        "/userinfo",
    ]


async def test_basic_credentials_are_form_encoded_slashes_too(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    """RFC 6749 §2.3.1: client_id and secret form-encoded before Basic; a client_id may be a URL."""
    idp = make_idp(client_id="https://broker.test/sp")
    op.claims = {"aud": "https://broker.test/sp"}
    await login(OIDCConnector(idp, http, clock, client_secret="a/b:c d"), op)
    request = next(r for r in op.requests if r.url.path.endswith("/token"))
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    credentials = base64.b64decode(encoded).decode()
    assert (scheme, credentials) == ("Basic", "https%3A%2F%2Fbroker.test%2Fsp:a%2Fb%3Ac%20d")


async def test_discovery_that_expires_before_the_callback_is_fetched_again(
    http: httpx.AsyncClient, clock: FrozenClock, op: FakeOP
) -> None:
    connector = OIDCConnector(make_idp(), http, clock, client_secret=SECRET, metadata_ttl=600)
    redirect = await started(connector, op)
    clock.advance(600)  # the person took ten minutes at the IdP
    assert (await connector.finish(callback(redirect), redirect.saved)).subject == "person-1"
    paths = [r.url.path.removeprefix("/org") for r in op.requests]
    assert paths[:3] == ["/.well-known/openid-configuration"] * 2 + ["/token"]


async def test_a_plain_login_asks_nothing_optional(connector: OIDCConnector, op: FakeOP) -> None:
    redirect = await started(connector, op)
    saved = redirect.saved
    verifier = hashlib.sha256(saved["code_verifier"].encode()).digest()
    assert dict(parse_qsl(urlsplit(redirect.url).query)) == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": saved["state"],
        "nonce": saved["nonce"],
        "code_challenge": base64.urlsafe_b64encode(verifier).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }


def test_an_unpadded_at_hash_may_end_in_any_character() -> None:
    """A SHA-384 half is 24 bytes, 32 base64url characters without padding: the last may be
    any of them (here an X), and only "=" is stripped."""
    token = next(
        t for t in (f"at-{i}" for i in range(10_000)) if left_half("sha384", t).endswith("X")
    )
    assert at_hash_problem({"at_hash": left_half("sha384", token)}, "RS384", token) is None


async def test_discovery_is_kept_an_hour_by_default(
    connector: OIDCConnector, op: FakeOP, clock: FrozenClock
) -> None:
    await started(connector, op)
    clock.advance(3599)
    await started(connector, op)
    clock.advance(1)
    await started(connector, op)
    assert [r.url.path for r in op.requests].count("/org/.well-known/openid-configuration") == 2
