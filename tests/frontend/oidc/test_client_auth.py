"""Client authentication, called directly: which method a request carries, secrets, and every
check on a private_key_jwt assertion (tests/flows/test_client_auth.py goes through HTTP).

A portal's jwks_uri is served by an httpx transport that stands for the portal (a third party,
not broker code), counting its fetches."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from broker.clock import FrozenClock
from broker.errors import InvalidClientError, OAuthError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.client_auth import (
    JWT_BEARER,
    ClientAuthenticator,
    Presented,
    read_credentials,
)
from broker.store.base import Store
from tests.frontend.oidc.conftest import ISSUER, SECRET, T0, AddClient, log_lines

TOKEN_ENDPOINT = ISSUER + "/token"
MAX_AGE = 300
SKEW = 60
REFETCH = 30.0


def basic(client_id: str, secret: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def unsigned(claims: Any) -> str:
    """A token whose payload is `claims` (read_credentials looks only at the payload)."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{payload}.sig"


# -- read_credentials: exactly one method --------------------------------------------------------


def test_basic_credentials_are_read_and_url_decoded() -> None:
    presented = read_credentials({}, basic("my%3Aportal", "p%40ss:word"))

    assert presented == Presented("client_secret_basic", "my:portal", "p@ss:word")


def test_the_basic_scheme_is_case_insensitive() -> None:
    for scheme in ("basic", "BASIC", "bAsIc"):
        assert read_credentials({}, basic("portal", "s", scheme)).method == "client_secret_basic"


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic " + base64.b64encode(b"portal:s").decode()[:-1],
    ],
)
def test_malformed_basic_credentials_are_refused(header: str) -> None:
    with pytest.raises(InvalidClientError) as info:
        read_credentials({}, header)

    assert info.value.description == "malformed Basic credentials"


def test_basic_credentials_with_characters_outside_base64_are_refused_not_skipped() -> None:
    """A lenient decoder would drop the "!" and read "portal:s"."""
    encoded = base64.b64encode(b"portal:s").decode()

    with pytest.raises(InvalidClientError, match=r"^malformed Basic credentials$"):
        read_credentials({}, f"Basic {encoded[:4]}!{encoded[4:]}")


def test_basic_credentials_with_surrounding_space_are_read() -> None:
    header = "Basic  " + base64.b64encode(b"portal:s").decode() + " "

    assert read_credentials({}, header) == Presented("client_secret_basic", "portal", "s")


def test_another_authorization_scheme_is_not_client_authentication() -> None:
    with pytest.raises(InvalidClientError, match=r"^client authentication required$"):
        read_credentials({}, "Bearer abc")
    with pytest.raises(InvalidClientError, match=r"^client authentication required$"):
        read_credentials({}, "Basi")

    assert read_credentials({"client_id": "p"}, "Bearer abc") == Presented("none", "p")


def test_a_secret_in_the_form_is_client_secret_post() -> None:
    presented = read_credentials({"client_id": "portal", "client_secret": "s"}, None)

    assert presented == Presented("client_secret_post", "portal", "s")
    assert read_credentials({"client_secret": "s"}, None) == Presented(
        "client_secret_post", "", "s"
    )


def test_two_methods_at_once_are_invalid_request() -> None:
    form = {"client_id": "portal", "client_secret": "s"}

    with pytest.raises(OAuthError) as info:
        read_credentials(form, basic("portal", "s"))

    assert (info.value.error, info.value.description) == (
        "invalid_request",
        "more than one client authentication method",
    )
    with pytest.raises(OAuthError, match=r"^more than one client authentication method$"):
        read_credentials(
            form
            | {"client_assertion_type": JWT_BEARER, "client_assertion": unsigned({"sub": "p"})},
            None,
        )


def test_a_client_id_in_the_form_must_match_the_credentials() -> None:
    with pytest.raises(InvalidClientError, match=r"^client_id does not match the credentials$"):
        read_credentials({"client_id": "other"}, basic("portal", "s"))

    assert read_credentials({"client_id": "portal"}, basic("portal", "s")).client_id == "portal"
    assert read_credentials({"client_id": ""}, basic("portal", "s")).client_id == "portal"


def test_only_a_client_id_is_a_public_client() -> None:
    assert read_credentials({"client_id": "app"}, None) == Presented("none", "app")


@pytest.mark.parametrize("form", [{}, {"client_id": ""}])
def test_no_credentials_and_no_client_id_is_refused(form: dict[str, str]) -> None:
    with pytest.raises(InvalidClientError, match=r"^client authentication required$"):
        read_credentials(form, None)


def test_an_assertion_names_its_client_by_sub_or_client_id() -> None:
    assertion = unsigned({"sub": "portal"})
    form = {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}

    assert read_credentials(form, None) == Presented("private_key_jwt", "portal", None, assertion)
    assert read_credentials(form | {"client_id": "portal"}, None).client_id == "portal"


@pytest.mark.parametrize(
    "form",
    [
        {"client_assertion_type": "urn:other", "client_assertion": unsigned({"sub": "p"})},
        {"client_assertion_type": JWT_BEARER},
        {"client_assertion_type": JWT_BEARER, "client_assertion": ""},
        {"client_assertion": unsigned({"sub": "p"})},
    ],
)
def test_an_assertion_of_another_type_or_without_a_value_is_refused(form: dict[str, str]) -> None:
    with pytest.raises(InvalidClientError, match=r"^unsupported client_assertion_type$"):
        read_credentials(form, None)


@pytest.mark.parametrize(
    "assertion",
    ["no-dots", "a.!!!.c", "a." + base64.urlsafe_b64encode(b"not json").decode() + ".c"]
    + [unsigned(claims) for claims in ([], {"iss": "p"}, {"sub": 7}, {"sub": None}, "p")],
)
def test_a_malformed_assertion_is_refused(assertion: str) -> None:
    form = {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}

    with pytest.raises(InvalidClientError, match=r"^malformed client assertion$"):
        read_credentials(form, None)


def warnings(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None]]:
    """What operators read: each warning of client authentication, with its client_id."""
    lines = log_lines(caplog, "client_auth")
    return [(message, client_id) for level, message, client_id in lines if level == "WARNING"]


# -- secrets -------------------------------------------------------------------------------------


class Portal:
    """The portal's jwks_uri: what it serves now, and how often it was asked."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.status = 200
        self.fetches = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(self.status, json=self.jwks)


@pytest.fixture
def portal() -> Portal:
    return Portal()


@pytest.fixture
async def http(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(portal.handle)) as client:
        yield client


def authenticator(
    store: Store, clock: FrozenClock, http: httpx.AsyncClient, **options: Any
) -> ClientAuthenticator:
    return ClientAuthenticator(
        store,
        clock,
        http,
        issuer=ISSUER,
        endpoints=(TOKEN_ENDPOINT, ISSUER + "/revoke"),
        max_assertion_age=MAX_AGE,
        clock_skew=SKEW,
        jwks_refetch_seconds=REFETCH,
        **options,
    )


@pytest.fixture
def auth(store: Store, clock: FrozenClock, http: httpx.AsyncClient) -> ClientAuthenticator:
    return authenticator(store, clock, http)


async def test_the_registered_secret_authenticates_by_basic(
    auth: ClientAuthenticator, add_client: AddClient
) -> None:
    client = await add_client()

    assert await auth.authenticate({}, basic("portal", SECRET)) == client


async def test_the_registered_secret_authenticates_by_post(
    auth: ClientAuthenticator, add_client: AddClient
) -> None:
    client = await add_client(token_endpoint_auth_method="client_secret_post")
    form = {"client_id": "portal", "client_secret": SECRET}

    assert await auth.authenticate(form, None) == client


@pytest.mark.parametrize("secret", ["", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()])
async def test_a_wrong_or_empty_secret_is_refused(
    auth: ClientAuthenticator, add_client: AddClient, secret: str
) -> None:
    await add_client()

    with pytest.raises(InvalidClientError, match=r"^client authentication failed$"):
        await auth.authenticate({}, basic("portal", secret))


@pytest.mark.parametrize("secret", ["", "wrong", SECRET[:-1]])
async def test_a_wrong_or_empty_secret_in_the_form_is_refused(
    auth: ClientAuthenticator, add_client: AddClient, secret: str
) -> None:
    await add_client(token_endpoint_auth_method="client_secret_post")

    with pytest.raises(InvalidClientError, match=r"^client authentication failed$"):
        await auth.authenticate({"client_id": "portal", "client_secret": secret}, None)


async def test_a_secret_client_stored_without_a_hash_is_refused(
    auth: ClientAuthenticator, add_client: AddClient
) -> None:
    await add_client(secret_hash=None)

    with pytest.raises(InvalidClientError, match=r"^client authentication failed$"):
        await auth.authenticate({}, basic("portal", SECRET))


async def test_an_unknown_client_is_refused(auth: ClientAuthenticator) -> None:
    with pytest.raises(InvalidClientError, match=r"^unknown client$"):
        await auth.authenticate({}, basic("nobody", SECRET))


@pytest.mark.parametrize(
    ("registered", "form", "header"),
    [
        ("client_secret_post", {}, basic("portal", SECRET)),
        ("client_secret_basic", {"client_id": "portal", "client_secret": SECRET}, None),
        ("client_secret_basic", {"client_id": "portal"}, None),
        ("private_key_jwt", {}, basic("portal", SECRET)),
        ("none", {}, basic("portal", SECRET)),
    ],
)
async def test_a_client_must_use_the_method_it_registered(
    auth: ClientAuthenticator,
    add_client: AddClient,
    registered: str,
    form: dict[str, str],
    header: str | None,
) -> None:
    await add_client(
        token_endpoint_auth_method=registered,
        jwks={"keys": []},
        secret_hash=hash_or_none(registered),
    )

    with pytest.raises(InvalidClientError, match=r"^client authentication method not allowed$"):
        await auth.authenticate(form, header)


def hash_or_none(method: str) -> str | None:
    return secrets.hash_secret(SECRET) if method.startswith("client_secret") else None


async def test_a_public_client_is_known_by_its_client_id(
    auth: ClientAuthenticator, add_client: AddClient
) -> None:
    client = await add_client(token_endpoint_auth_method="none")

    assert await auth.authenticate({"client_id": "portal"}, None) == client


# -- private_key_jwt -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "portal",
        "sub": "portal",
        "aud": TOKEN_ENDPOINT,
        "exp": int(T0) + 60,
        "iat": int(T0),
        "jti": "jti-1",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def signed(key: ECKey | RSAKey, body: dict[str, Any], alg: str = "ES256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])


def assertion_form(assertion: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}


@pytest.fixture
async def jwt_client(add_client: AddClient, ec_key: ECKey, rsa_key: RSAKey) -> None:
    public = [ec_key.as_dict(private=False), rsa_key.as_dict(private=False)]
    await add_client(token_endpoint_auth_method="private_key_jwt", jwks={"keys": public})


async def accepted(auth: ClientAuthenticator, assertion: str) -> bool:
    client = await auth.authenticate(assertion_form(assertion), None)
    return client.client_id == "portal"


async def refusal(auth: ClientAuthenticator, assertion: str) -> str:
    with pytest.raises(InvalidClientError) as info:
        await auth.authenticate(assertion_form(assertion), None)
    return info.value.description


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "RS512"])
async def test_an_assertion_signed_by_a_registered_key_authenticates(
    auth: ClientAuthenticator, ec_key: ECKey, rsa_key: RSAKey, alg: str
) -> None:
    key = ec_key if alg == "ES256" else rsa_key

    assert await accepted(auth, signed(key, claims(), alg))


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize(
    "aud", [ISSUER, TOKEN_ENDPOINT, ISSUER + "/revoke", [TOKEN_ENDPOINT], ["x", ISSUER]]
)
async def test_the_audience_may_be_the_issuer_or_an_endpoint(
    auth: ClientAuthenticator, ec_key: ECKey, aud: Any
) -> None:
    assert await accepted(auth, signed(ec_key, claims(aud=aud)))


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize(
    "aud", [None, "https://other.example", ISSUER + "/", ["x", "y"], [], ISSUER + "/userinfo"]
)
async def test_an_assertion_for_another_audience_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey, aud: Any
) -> None:
    description = await refusal(auth, signed(ec_key, claims(aud=aud)))

    assert description == "client assertion audience is not this provider"


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"iss": "other"}, "client assertion iss and sub must be the client_id"),
        ({"iss": None}, "client assertion iss and sub must be the client_id"),
        ({"iss": "PORTAL"}, "client assertion iss and sub must be the client_id"),
        ({"sub": "other"}, "client assertion iss and sub must be the client_id"),
    ],
)
async def test_iss_and_sub_must_both_be_the_client_named_in_the_form(
    auth: ClientAuthenticator, ec_key: ECKey, changes: dict[str, Any], description: str
) -> None:
    """The form's client_id names the client; an assertion about another is refused."""
    form = assertion_form(signed(ec_key, claims(**changes))) | {"client_id": "portal"}

    with pytest.raises(InvalidClientError) as info:
        await auth.authenticate(form, None)

    assert info.value.description == description


@pytest.mark.usefixtures("jwt_client")
async def test_an_assertion_whose_iss_is_another_client_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey
) -> None:
    description = await refusal(auth, signed(ec_key, claims(iss="other")))

    assert description == "client assertion iss and sub must be the client_id"


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize("exp", [None, "9999999999", int(T0) - SKEW - 1])
async def test_an_assertion_without_a_live_exp_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey, exp: Any
) -> None:
    description = await refusal(auth, signed(ec_key, claims(exp=exp, iat=None)))

    assert description == "client assertion expired or without exp"


@pytest.mark.usefixtures("jwt_client")
async def test_an_assertion_expired_within_the_clock_skew_is_accepted(
    auth: ClientAuthenticator, ec_key: ECKey
) -> None:
    assert await accepted(auth, signed(ec_key, claims(exp=int(T0) - SKEW, iat=None)))
    assert await accepted(auth, signed(ec_key, claims(exp=T0 + 0.5, iat=None, jti="float")))


@pytest.mark.usefixtures("jwt_client")
async def test_an_assertion_that_lives_too_long_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey
) -> None:
    longest = int(T0) + MAX_AGE + SKEW
    assert await accepted(auth, signed(ec_key, claims(exp=longest)))

    description = await refusal(auth, signed(ec_key, claims(exp=longest + 1, jti="2")))

    assert description == "client assertion lives too long"


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize("iat", [int(T0) + SKEW + 1, int(T0) - MAX_AGE - 1])
async def test_an_assertion_issued_in_the_future_or_too_long_ago_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey, iat: int
) -> None:
    description = await refusal(auth, signed(ec_key, claims(iat=iat)))

    assert description == "client assertion iat out of range"


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize("iat", [int(T0) + SKEW, int(T0) - MAX_AGE, "not-a-number"])
async def test_an_iat_at_the_edges_or_not_a_number_is_accepted(
    auth: ClientAuthenticator, ec_key: ECKey, iat: Any
) -> None:
    assert await accepted(auth, signed(ec_key, claims(iat=iat)))


@pytest.mark.usefixtures("jwt_client")
@pytest.mark.parametrize("jti", [None, "", 7])
async def test_an_assertion_without_a_jti_is_refused(
    auth: ClientAuthenticator, ec_key: ECKey, jti: Any
) -> None:
    description = await refusal(auth, signed(ec_key, claims() | {"jti": jti}))

    assert description == "client assertion needs a jti"


@pytest.mark.usefixtures("jwt_client")
async def test_a_replayed_assertion_is_refused_until_it_expires(
    auth: ClientAuthenticator, ec_key: ECKey, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    assertion = signed(ec_key, claims())
    assert await accepted(auth, assertion)

    assert await refusal(auth, assertion) == "client assertion was already used"
    assert warnings(caplog) == [("replayed client assertion refused", "portal")]
    assert await refusal(auth, signed(ec_key, claims(exp=int(T0) + 30))) == (
        "client assertion was already used"
    )
    rows = await store.connection.all("SELECT issuer, jti, expires_at FROM seen_jtis", ())
    assert rows == [{"issuer": "portal", "jti": "jti-1", "expires_at": T0 + 60 + SKEW}]


async def test_the_same_jti_from_another_client_is_no_replay(
    auth: ClientAuthenticator, add_client: AddClient, ec_key: ECKey
) -> None:
    for client_id in ("portal", "other"):
        await add_client(
            client_id,
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [ec_key.as_dict(private=False)]},
        )
        body = claims(iss=client_id, sub=client_id)
        client = await auth.authenticate(assertion_form(signed(ec_key, body)), None)
        assert client.client_id == client_id


@pytest.mark.usefixtures("jwt_client")
async def test_an_assertion_with_an_unknown_kid_is_refused(auth: ClientAuthenticator) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"})

    assert await refusal(auth, signed(stranger, claims())) == (
        "client assertion signed by an unknown key"
    )


@pytest.mark.usefixtures("jwt_client")
async def test_an_assertion_signed_by_another_key_with_a_registered_kid_is_refused(
    auth: ClientAuthenticator,
) -> None:
    impostor = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})

    assert await refusal(auth, signed(impostor, claims())) == "client assertion signature invalid"


@pytest.mark.usefixtures("jwt_client")
async def test_a_symmetric_or_unsigned_assertion_is_refused(auth: ClientAuthenticator) -> None:
    secret_key = OctKey.import_key(SECRET.encode(), parameters={"kid": "ec-1"})
    hs256 = jwt.encode({"alg": "HS256", "kid": "ec-1"}, claims(), secret_key)
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"ec-1"}').rstrip(b"=").decode()
    none = header + "." + hs256.split(".")[1] + "."

    assert await refusal(auth, hs256) == "client assertion signature invalid"
    assert await refusal(auth, none) == "client assertion signature invalid"


# -- keys from the portal's jwks_uri -------------------------------------------------------------

JWKS_URI = "https://portal.example.fi/jwks"


@pytest.fixture
async def uri_client(add_client: AddClient, portal: Portal, ec_key: ECKey) -> None:
    portal.jwks = {"keys": [ec_key.as_dict(private=False)]}
    await add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=JWKS_URI)


@pytest.mark.usefixtures("uri_client")
async def test_keys_are_fetched_once_and_kept(
    auth: ClientAuthenticator, portal: Portal, ec_key: ECKey
) -> None:
    assert await accepted(auth, signed(ec_key, claims(jti="1")))
    assert await accepted(auth, signed(ec_key, claims(jti="2")))

    assert portal.fetches == 1


@pytest.mark.usefixtures("uri_client")
async def test_an_unknown_kid_fetches_the_keys_again_after_the_cooldown(
    auth: ClientAuthenticator, portal: Portal, ec_key: ECKey, clock: FrozenClock
) -> None:
    assert await accepted(auth, signed(ec_key, claims(jti="1")))
    rotated = ECKey.generate_key("P-256", parameters={"kid": "ec-2"})
    portal.jwks = {"keys": [rotated.as_dict(private=False)]}

    assert await refusal(auth, signed(rotated, claims(jti="2"))) == (
        "client keys were fetched moments ago; unknown key"
    )
    assert portal.fetches == 1
    clock.advance(REFETCH - 0.001)
    assert await refusal(auth, signed(rotated, claims(jti="3"))) == (
        "client keys were fetched moments ago; unknown key"
    )
    clock.advance(0.001)
    assert await accepted(auth, signed(rotated, claims(jti="4", exp=int(T0) + 90)))
    assert portal.fetches == 2


@pytest.mark.usefixtures("uri_client")
async def test_a_kid_still_unknown_after_the_refetch_is_refused(
    auth: ClientAuthenticator, portal: Portal, clock: FrozenClock
) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"})
    clock.advance(0)

    assert await refusal(auth, signed(stranger, claims())) == (
        "client keys were fetched moments ago; unknown key"
    )
    assert portal.fetches == 1


@pytest.mark.usefixtures("uri_client")
async def test_the_fetch_cooldown_is_per_client(
    auth: ClientAuthenticator, add_client: AddClient, portal: Portal, ec_key: ECKey
) -> None:
    await add_client(
        "other", token_endpoint_auth_method="private_key_jwt", jwks_uri=JWKS_URI + "?other"
    )
    assert await accepted(auth, signed(ec_key, claims(jti="1")))

    client = await auth.authenticate(
        assertion_form(signed(ec_key, claims(iss="other", sub="other"))), None
    )

    assert client.client_id == "other"
    assert portal.fetches == 2


@pytest.mark.usefixtures("uri_client")
async def test_a_kid_the_refetched_keys_lack_is_an_unknown_key(
    auth: ClientAuthenticator, portal: Portal, ec_key: ECKey, clock: FrozenClock
) -> None:
    assert await accepted(auth, signed(ec_key, claims(jti="1")))
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"})
    clock.advance(REFETCH)

    assert await refusal(auth, signed(stranger, claims(jti="2"))) == (
        "client assertion signed by an unknown key"
    )
    assert portal.fetches == 2


async def test_a_client_without_keys_is_refused_without_a_fetch(
    auth: ClientAuthenticator, add_client: AddClient, portal: Portal, ec_key: ECKey
) -> None:
    await add_client(token_endpoint_auth_method="private_key_jwt")

    assert await refusal(auth, signed(ec_key, claims())) == "client has no keys"
    assert portal.fetches == 0


@pytest.mark.usefixtures("uri_client")
async def test_a_known_kid_with_a_bad_signature_fetches_nothing_more(
    auth: ClientAuthenticator, portal: Portal, clock: FrozenClock
) -> None:
    impostor = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    clock.advance(REFETCH)

    assert await refusal(auth, signed(impostor, claims())) == "client assertion signature invalid"
    assert portal.fetches == 1


@pytest.mark.usefixtures("uri_client")
@pytest.mark.parametrize("status", [404, 500])
async def test_keys_that_cannot_be_fetched_refuse_the_client(
    auth: ClientAuthenticator,
    portal: Portal,
    ec_key: ECKey,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    portal.status = status

    assert await refusal(auth, signed(ec_key, claims())) == "client keys cannot be fetched"
    assert warnings(caplog) == [("cannot fetch client JWKS: HTTPStatusError", None)]


@pytest.mark.usefixtures("uri_client")
async def test_keys_that_are_not_a_jwks_refuse_the_client(
    auth: ClientAuthenticator, portal: Portal, ec_key: ECKey, caplog: pytest.LogCaptureFixture
) -> None:
    portal.jwks = {"keys": [{"kty": "nonsense"}]}

    assert await refusal(auth, signed(ec_key, claims())) == "client keys cannot be fetched"
    assert [message for message, _ in warnings(caplog)] == [
        "cannot fetch client JWKS: MissingKeyError"
    ]


async def test_in_production_a_plain_http_jwks_uri_is_never_fetched(
    store: Store,
    clock: FrozenClock,
    http: httpx.AsyncClient,
    add_client: AddClient,
    portal: Portal,
    ec_key: ECKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    portal.jwks = {"keys": [ec_key.as_dict(private=False)]}
    await add_client(
        token_endpoint_auth_method="private_key_jwt", jwks_uri="http://portal.example.fi/jwks"
    )
    strict = authenticator(store, clock, http, https_only=True)

    assert await refusal(strict, signed(ec_key, claims())) == "client keys cannot be fetched"
    assert portal.fetches == 0
    assert warnings(caplog) == [
        ("client jwks_uri is not https; not fetched (sote-broker check-config)", None)
    ]
    lenient = authenticator(store, clock, http)
    assert await accepted(lenient, signed(ec_key, claims()))
    assert portal.fetches == 1


async def test_in_production_an_https_jwks_uri_is_fetched(
    store: Store, clock: FrozenClock, http: httpx.AsyncClient, uri_client: None, ec_key: ECKey
) -> None:
    strict = authenticator(store, clock, http, https_only=True)

    assert await accepted(strict, signed(ec_key, claims()))


# -- the random values ---------------------------------------------------------------------------


def test_secrets_carry_256_bits_and_ids_128() -> None:
    assert {len(secrets.new_secret()) for _ in range(20)} == {43}  # 32 bytes, base64url
    assert {len(secrets.new_id()) for _ in range(20)} == {22}  # 16 bytes
    assert len({secrets.new_secret() for _ in range(20)}) == 20
