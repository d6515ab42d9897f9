"""The OpenID Provider as the HTTP layer sees it, called directly: its discovery document to the
letter (every value is a promise to certified client libraries), and its parts wired from the
settings: the authorization request checked against the stored client with the settings' PKCE and
acr rules, SSO reuse with prompt=none, the code, client authentication, and ending sessions."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from broker.claims.sealed import Sealer
from broker.clock import FrozenClock
from broker.errors import (
    AuthorizationRedirectError,
    InvalidClientError,
    LoginRequiredError,
    UntrustedRequestError,
)
from broker.frontend.oidc.discovery import endpoint, provider_metadata
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.provider import OIDCProvider
from broker.frontend.oidc.secrets import s256_challenge
from broker.settings import Settings
from broker.store.base import Store
from tests.frontend.oidc.conftest import (
    ISSUER,
    REDIRECT,
    SECRET,
    SUBJECT_KEY,
    T0,
    VERIFIER,
    AddClient,
    authorization_request,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LOA2, LOA3 = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"
METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def settings(**changes: Any) -> Settings:
    return Settings.model_validate({"mode": "development", "issuer": ISSUER, **changes})


def test_the_discovery_document_says_exactly_what_the_broker_does() -> None:
    assert provider_metadata(settings()) == {
        "issuer": "https://broker.example.fi",
        "authorization_endpoint": "https://broker.example.fi/authorize",
        "token_endpoint": "https://broker.example.fi/token",
        "userinfo_endpoint": "https://broker.example.fi/userinfo",
        "jwks_uri": "https://broker.example.fi/jwks",
        "revocation_endpoint": "https://broker.example.fi/revoke",
        "introspection_endpoint": "https://broker.example.fi/introspect",
        "end_session_endpoint": "https://broker.example.fi/end_session",
        "scopes_supported": [
            "openid",
            "profile",
            "email",
            "phone",
            "professional",
            "national_identity_code",
            "offline_access",
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": METHODS,
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256",
            "RS384",
            "RS512",
            "PS256",
            "ES256",
            "ES384",
        ],
        "revocation_endpoint_auth_methods_supported": METHODS,
        "introspection_endpoint_auth_methods_supported": METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "name",
            "given_name",
            "family_name",
            "locale",
            "updated_at",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "partner_organisations",
            "route",
            "idp",
            "organisation_id",
            "organisation_name",
            "title",
            "card_type",
            "prescription_right",
            "hetu",
        ],
        "acr_values_supported": [LOA2, LOA3],
        "prompt_values_supported": ["none", "login", "select_account"],
        "ui_locales_supported": ["fi", "sv", "en"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }
    only_loa3 = provider_metadata(settings(acr_values_supported=[LOA3]))
    assert only_loa3["acr_values_supported"] == [LOA3]
    assert endpoint(settings(), "jwks_uri") == "https://broker.example.fi/jwks"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as c:
        yield c


def provider(
    store: Store, keys: KeyRing, clock: FrozenClock, http: httpx.AsyncClient, **changes: Any
) -> OIDCProvider:
    return OIDCProvider(settings(**changes), store, keys, clock, http, subject_key=SUBJECT_KEY)


def request_params(**changes: str) -> dict[str, str]:
    params = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "st",
        "code_challenge": s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    return {k: v for k, v in (params | changes).items() if v}


async def test_the_authorization_request_is_checked_against_the_stored_client(
    store: Store, keys: KeyRing, clock: FrozenClock, http: httpx.AsyncClient, add_client: AddClient
) -> None:
    await add_client(require_pkce=False)
    op = provider(store, keys, clock, http)
    request = await op.validate_authorization(request_params(acr_values=f"{LOA2} x"), frozenset())
    assert (request.client_id, request.redirect_uri, request.acr_values) == (
        "portal",
        REDIRECT,
        (LOA2,),
    )
    for params in (request_params(client_id="other"), request_params(client_id="")):
        with pytest.raises(UntrustedRequestError):
            await op.validate_authorization(params, frozenset())
    no_pkce = request_params(code_challenge="", code_challenge_method="")
    with pytest.raises(AuthorizationRedirectError) as refused:  # the settings require PKCE
        await op.validate_authorization(no_pkce, frozenset())
    assert refused.value.cause.description == "code_challenge required (PKCE with S256)"
    relaxed = provider(store, keys, clock, http, require_pkce=False)
    assert (await relaxed.validate_authorization(no_pkce, frozenset())).code_challenge is None
    loa3_only = provider(store, keys, clock, http, acr_values_supported=[LOA3])
    request = await loa3_only.validate_authorization(request_params(acr_values=LOA2), frozenset())
    assert request.acr_values == ()


async def test_an_sso_session_is_reused_or_prompt_none_is_answered_to_the_portal(
    store: Store, keys: KeyRing, clock: FrozenClock, http: httpx.AsyncClient, add_client: AddClient
) -> None:
    client = await add_client()
    op = provider(store, keys, clock, http)
    session = await op.sessions.start("local-sub", acr=LOA3, amr=("x",), claims={})
    plain = authorization_request()
    silent = authorization_request(prompt=("none",))
    assert await op.reusable_session(plain, session.sid) == session
    assert await op.reusable_session(silent, session.sid) == session
    assert await op.reusable_session(plain, None) is None
    assert await op.reusable_session(plain, session.sid, offered=lambda s: False) is None
    for sid, offered in ((None, True), (session.sid, False)):
        with pytest.raises(AuthorizationRedirectError) as refused:
            await op.reusable_session(silent, sid, offered=lambda s, o=offered: o)
        assert isinstance(refused.value.cause, LoginRequiredError)
        assert refused.value.cause.description == "the user must log in"
        assert (refused.value.redirect_uri, refused.value.state) == (REDIRECT, "st")
    assert await op.reusable_session(silent, None, passive_upstream=True) is None
    asked: list[str] = []
    recent = authorization_request(max_age=60)
    assert (
        await op.reusable_session(
            recent, session.sid, offered=lambda s: asked.append(s.sid) or True
        )
        == session
    )
    assert asked == [session.sid]  # the policy is asked about this session
    clock.advance(61)
    assert await op.reusable_session(recent, session.sid) is None  # too old for max_age

    redirect = await op.complete(plain, session)
    assert redirect.startswith(REDIRECT + "?code=")
    basic = base64.b64encode(f"portal:{SECRET}".encode()).decode()
    assert await op.authenticate_client({}, f"Basic {basic}") == client


async def test_ending_a_session_or_a_subject(
    store: Store, keys: KeyRing, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    op = provider(store, keys, clock, http)
    await op.end_session(None)  # no session: nothing to end
    first = await op.sessions.start("local-sub", acr=LOA3, amr=(), claims={})
    await op.end_session(first)
    assert await op.sessions.active(first.sid) is None
    others = [await op.sessions.start("other-sub", acr=LOA3, amr=(), claims={}) for _ in "ab"]
    assert await op.end_subject("other-sub") == 2
    assert [await op.sessions.active(s.sid) for s in others] == [None, None]
    assert op.metadata == provider_metadata(op.settings)


class Portal:
    """The portal's side on http: its JWKS, and the logout tokens it is sent."""

    def __init__(self, key: ECKey) -> None:
        self.key = key
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        return httpx.Response(200)


def assertion(key: ECKey, aud: str) -> dict[str, str]:
    claims = {"iss": "portal", "sub": "portal", "aud": aud, "exp": int(T0) + 60,
              "iat": int(T0), "jti": aud}  # fmt: skip
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])
    return {"client_assertion_type": JWT_BEARER, "client_assertion": token}


@pytest.mark.parametrize("mode", ["development", "production"])
async def test_the_parts_are_wired_to_the_settings_issuer_keys_and_mode(
    store: Store, keys: KeyRing, clock: FrozenClock, add_client: AddClient, mode: str
) -> None:
    """Plain-http portal endpoints (a client stored before `check_client` refused them) are
    called in development only; every part signs and checks as the settings' issuer."""
    key = ECKey.generate_key("P-256", {"kid": "portal-key"}, private=True)
    portal = Portal(key)
    client = await add_client(
        token_endpoint_auth_method="private_key_jwt",
        secret_hash=None,
        jwks_uri="http://portal.example.fi/jwks",
        backchannel_logout_uri="http://portal.example.fi/bc",
        release_national_identity_code=True,
        minimum_acr=LOA2,  # met by a LOA3 login: "at least" reads the settings' acr order
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(portal)) as http:
        op = provider(store, keys, clock, http, mode=mode)
        production = mode == "production"
        assert (op.clock, op.keys, op.store) == (clock, keys, store)  # the journey reads these
        for aud in (ISSUER, ISSUER + "/token", ISSUER + "/introspect", ISSUER + "/revoke"):
            if production:
                with pytest.raises(InvalidClientError):
                    await op.authenticate_client(assertion(key, aud), None)
            else:
                assert await op.authenticate_client(assertion(key, aud), None) == client
        with pytest.raises(InvalidClientError):  # not an endpoint that authenticates clients
            await op.authenticate_client(assertion(key, ISSUER + "/authorize"), None)
        assert len(portal.requests) == (0 if production else 1)  # the JWKS, fetched once

        sealed = Sealer(SUBJECT_KEY).seal("010280-952L")
        session = await op.sessions.start(
            "local-sub", acr=LOA3, amr=("x",), claims={"hetu": sealed}
        )
        request = authorization_request(scope=("openid", "national_identity_code"))
        redirect = await op.complete(request, session)
        query = parse_qs(urlsplit(redirect).query)
        assert query["iss"] == [ISSUER]
        form = {"grant_type": "authorization_code", "code": query["code"][0],
                "redirect_uri": REDIRECT, "code_verifier": VERIFIER}  # fmt: skip
        body = await op.tokens.handle(client, form)
        _, id_claims = op.keys.verify_jwt(body["id_token"], ["RS256"])
        assert (id_claims["iss"], id_claims["iat"]) == (ISSUER, int(T0))
        assert await op.resources.userinfo(body["access_token"]) == {
            "sub": id_claims["sub"],
            "hetu": "010280-952L",  # opened with the key the settings give
        }
        answer = await op.resources.introspect(client, {"token": body["access_token"]})
        assert (answer["iss"], answer["iat"]) == (ISSUER, int(T0))
        hinted = await op.logout.validate({"id_token_hint": body["id_token"]})
        assert hinted.client == client and hinted.hinted_sid == session.sid

        await op.end_session(session)
        rows = await store.connection.all("SELECT client_id, sub, sid FROM logout_outbox", ())
        expected = [] if production else [("portal", id_claims["sub"], session.sid)]
        assert [(row["client_id"], row["sub"], row["sid"]) for row in rows] == expected
        if not production:
            await op.backchannel.deliver_due()
            sent = parse_qs(portal.requests[-1].content.decode())["logout_token"][0]
            _, logout = op.keys.verify_jwt(sent, ["RS256"])
            assert (logout["iss"], logout["sub"], logout["sid"]) == (
                ISSUER,
                id_claims["sub"],
                session.sid,
            )
