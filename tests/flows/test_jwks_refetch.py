"""A portal's jwks_uri is fetched again for an unknown kid at most once per cooldown:
private_key_jwt assertions with made-up kids cannot make the broker hammer its key server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.brokers import RunningBroker
from tests.servers import bound_socket, serve

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class PortalKeys:
    """The portal's key server, counting how often it is asked."""

    keys: list[RSAKey]
    fetches: int = 0
    url: str = field(default="")

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.keys]})

        return Starlette(routes=[Route("/jwks", jwks)])


@pytest.fixture
def portal_keys() -> Iterator[PortalKeys]:
    portal = PortalKeys([RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    with serve(portal.app(), bound_socket()) as url:
        portal.url = url + "/jwks"
        yield portal


def assertion(key: RSAKey, audience: str, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": "portal",
        "sub": "portal",
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode({"alg": "RS256", "kid": kid or key.kid}, claims, key)


async def token(http: httpx.AsyncClient, broker: RunningBroker, signed: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": "x",
        "redirect_uri": "x",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
    }
    return await http.post(broker.url + "/token", data=form)


async def test_made_up_kids_fetch_the_portals_keys_once_per_cooldown(
    broker: RunningBroker, portal_keys: PortalKeys
) -> None:
    await broker.add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.url)
    attacker = RSAKey.generate_key(2048)
    async with httpx.AsyncClient(timeout=10) as http:
        made_up = [
            await token(http, broker, assertion(attacker, broker.url, kid=f"kid-{i}"))
            for i in range(30)
        ]
        assert {r.status_code for r in made_up} == {401}
        assert portal_keys.fetches == 1  # the first need of the keys; no refetch in the cooldown
        real = await token(http, broker, assertion(portal_keys.keys[0], broker.url))
        assert real.json()["error"] == "invalid_grant"  # authenticated by the cached keys
        assert portal_keys.fetches == 1

        broker.clock.advance(61)  # the default cooldown is 60 s
        for i in range(10):
            await token(http, broker, assertion(attacker, broker.url, kid=f"later-{i}"))
        assert portal_keys.fetches == 2


async def test_a_portal_that_rotated_its_key_is_fetched_again_after_the_cooldown(
    broker: RunningBroker, portal_keys: PortalKeys
) -> None:
    await broker.add_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.url)
    old = portal_keys.keys[0]
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await token(http, broker, assertion(old, broker.url))).status_code == 400
        new = RSAKey.generate_key(2048, parameters={"kid": "k2"})
        portal_keys.keys = [new]
        broker.clock.advance(61)
        rotated = await token(http, broker, assertion(new, broker.url))
    assert rotated.json()["error"] == "invalid_grant"  # authenticated with the new key
    assert portal_keys.fetches == 2
