"""Client authentication at /token: secrets, private_key_jwt and replay checks, public clients."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError as ClientOAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.brokers import RunningBroker
from tests.jwt_tools import rsa_client_key
from tests.login_walk import log_in
from tests.portal_client import (
    callback_params,
    code_form,
    portal_client,
    redeem,
    start,
)
from tests.servers import bound_socket, serve


async def code_for(
    broker: RunningBroker, browser: httpx.AsyncClient, client_id: str = "portal"
) -> tuple[str, str]:
    client = portal_client(broker, client_id, token_endpoint_auth_method="none")
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    return callback_params(response.headers["location"])["code"], auth.code_verifier


async def test_wrong_client_secret_is_refused_with_401_and_challenge(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    code, verifier = await code_for(broker, browser)
    response = await browser.post(
        broker.url + "/token", data=code_form(code, verifier), auth=("portal", "wrong" * 10)
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["cache-control"] == "no-store"


async def test_unknown_client_is_refused(broker: RunningBroker, browser: httpx.AsyncClient) -> None:
    response = await browser.post(
        broker.url + "/token", data=code_form("c", "v" * 43), auth=("nobody", "x" * 40)
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_client_secret_post_works_and_basic_is_refused_for_it(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client(token_endpoint_auth_method="client_secret_post")
    code, verifier = await code_for(broker, browser)
    secret = broker.secrets["portal"]
    wrong_method = await browser.post(
        broker.url + "/token", data=code_form(code, verifier), auth=("portal", secret)
    )
    assert wrong_method.status_code == 401
    code, verifier = await code_for(broker, browser)
    response = await browser.post(
        broker.url + "/token",
        data=code_form(code, verifier, client_id="portal", client_secret=secret),
    )
    assert response.status_code == 200, response.text


async def test_two_authentication_methods_at_once_are_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    code, verifier = await code_for(broker, browser)
    secret = broker.secrets["portal"]
    response = await browser.post(
        broker.url + "/token",
        data=code_form(code, verifier, client_secret=secret),
        auth=("portal", secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_confidential_client_cannot_skip_authentication(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    code, verifier = await code_for(broker, browser)
    response = await browser.post(
        broker.url + "/token", data=code_form(code, verifier, client_id="portal")
    )
    assert response.status_code == 401


async def test_private_key_jwt_through_authlib(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    key = rsa_client_key()
    await broker.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    client = portal_client(broker, token_endpoint_auth_method="private_key_jwt")
    client.client_secret = key.as_dict(private=True)
    client.client_auth_methods = [PrivateKeyJWT(broker.url + "/token")]
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    token = await redeem(client, auth, callback_params(response.headers["location"])["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["aud"] == "portal"


def assertion(key: RSAKey, audience: str, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": "portal",
        "sub": "portal",
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


async def post_with_assertion(
    broker: RunningBroker, browser: httpx.AsyncClient, signed: str
) -> httpx.Response:
    code, verifier = await code_for(broker, browser)
    return await browser.post(
        broker.url + "/token",
        data=code_form(
            code,
            verifier,
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion=signed,
        ),
    )


async def test_replayed_private_key_jwt_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    key = rsa_client_key()
    await broker.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    signed = assertion(key, broker.url)
    first = await post_with_assertion(broker, browser, signed)
    assert first.status_code == 200, first.text
    replay = await post_with_assertion(broker, browser, signed)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://another.example"},
        {"exp": int(time.time()) - 3600},
        {"exp": int(time.time()) + 86400},
        {"jti": None},
        {"iss": "someone-else"},
    ],
    ids=["audience", "expired", "too-long", "no-jti", "issuer"],
)
async def test_bad_private_key_jwt_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient, claims: dict[str, object]
) -> None:
    key = rsa_client_key()
    await broker.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    claims = dict(claims)  # not the parameter's own dict: a second run in one process sees it
    audience = str(claims.pop("aud", broker.url + "/token"))
    signed = assertion(key, audience, **claims)
    if claims.get("jti", "") is None:
        signed = assertion(key, audience, jti="")
    response = await post_with_assertion(broker, browser, signed)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_private_key_jwt_whose_sub_is_not_the_client_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """RFC 7523 §3: `sub` must be the client id too, not only `iss` (the client id is posted,
    so the assertion's `sub` does not pick the client)."""
    key = rsa_client_key()
    await broker.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    code, verifier = await code_for(broker, browser)
    form = code_form(
        code,
        verifier,
        client_id="portal",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion(key, broker.url + "/token", sub="someone-else"),
    )
    response = await browser.post(broker.url + "/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    code, verifier = await code_for(broker, browser)  # the same with sub = the client: fine
    fair = {**form, "code": code, "code_verifier": verifier}
    fair["client_assertion"] = assertion(key, broker.url + "/token")
    assert (await browser.post(broker.url + "/token", data=fair)).status_code == 200


async def test_private_key_jwt_signed_by_another_key_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    key = rsa_client_key()
    await broker.add_client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    impostor = RSAKey.generate_key(2048, parameters={"kid": key.kid})
    response = await post_with_assertion(broker, browser, assertion(impostor, broker.url))
    assert response.status_code == 401


async def test_private_key_jwt_keys_fetched_from_jwks_uri(
    tmp_path: object, broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import bound_socket, serve

    key = rsa_client_key()
    jwks_app = Starlette(
        routes=[Route("/jwks", lambda r: JSONResponse({"keys": [key.as_dict(private=False)]}))]
    )
    with serve(jwks_app, bound_socket()) as portal_url:
        await broker.add_client(
            token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_url + "/jwks"
        )
        response = await post_with_assertion(broker, browser, assertion(key, broker.url))
    assert response.status_code == 200, response.text


async def test_unsupported_grant_type(broker: RunningBroker, browser: httpx.AsyncClient) -> None:
    await broker.add_client()
    response = await browser.post(
        broker.url + "/token",
        data={"grant_type": "password", "username": "x", "password": "y"},
        auth=("portal", broker.secrets["portal"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_token_endpoint_wants_a_form(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    response = await browser.post(
        broker.url + "/token",
        json={"grant_type": "authorization_code"},
        auth=("portal", broker.secrets["portal"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_get_on_token_endpoint_is_refused(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(broker.url + "/token")
    assert response.status_code == 405


async def test_authlib_reports_wrong_secret(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    client = portal_client(broker)
    client.client_secret = "not-the-secret-but-long-enough-to-look-real"
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    with pytest.raises(ClientOAuthError) as refused:
        await redeem(client, auth, callback_params(response.headers["location"])["code"])
    assert refused.value.error == "invalid_client"


async def test_production_never_fetches_a_stored_plain_http_jwks_uri(
    production_broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """A client stored before registration refused plain http: its keys are not fetched from
    where anyone on the path could serve their own."""
    key = rsa_client_key()
    fetched: list[str] = []

    def jwks(request: Request) -> JSONResponse:
        fetched.append(request.url.path)
        return JSONResponse({"keys": [key.as_dict(private=False)]})

    with serve(Starlette(routes=[Route("/jwks", jwks)]), bound_socket()) as portal_url:
        await production_broker.add_client(
            token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_url + "/jwks"
        )
        response = await browser.post(
            production_broker.url + "/token",
            data=code_form(
                "some-code",
                "v" * 43,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=assertion(key, "https://broker.example"),
            ),
        )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert fetched == []
