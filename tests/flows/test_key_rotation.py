"""Key rotation without downtime, as a portal sees it: publish first, sign later, retire late."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from broker.frontend.oidc.keys import KeyRing
from tests.brokers import RunningBroker
from tests.jwt_tools import jwt_parts
from tests.login_walk import log_in
from tests.portal_client import callback_params, portal_client, redeem, start


async def id_token_kid(broker: RunningBroker, browser: httpx.AsyncClient) -> str:
    client = portal_client(broker)
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    token = await redeem(client, auth, callback_params(response.headers["location"])["code"])
    # the portal can verify the signature with what /jwks publishes (claims are checked elsewhere:
    # authlib checks them against the real time, and this test moves the broker's clock)
    keys = KeySet.import_key_set((await browser.get(broker.url + "/jwks")).json())
    jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    return str(jwt_parts(token["id_token"])[0]["kid"])


async def published(broker: RunningBroker, browser: httpx.AsyncClient) -> set[str]:
    return {key["kid"] for key in (await browser.get(broker.url + "/jwks")).json()["keys"]}


async def test_rotated_key_is_published_before_it_signs_and_retired_after(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    old = await id_token_kid(broker, browser)
    # what `sote-broker keys rotate` does, from another process's point of view
    operator = KeyRing(broker.settings.keys.directory, broker.clock)
    operator.load()
    new = operator.rotate("RS256", publish_lead=3600).kid

    assert {old, new} <= await published(broker, browser)
    assert await id_token_kid(broker, browser) == old

    broker.clock.advance(3601)
    assert await id_token_kid(broker, browser) == new
    assert old in await published(broker, browser)  # tokens it signed may still be alive

    tokens = broker.settings.tokens
    broker.clock.advance(max(tokens.id_token_ttl, tokens.logout_token_ttl) + tokens.clock_skew + 1)
    assert old not in await published(broker, browser)
    assert new in await published(broker, browser)


async def test_jwks_has_only_public_members(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    keys = (await browser.get(broker.url + "/jwks")).json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    for key in keys:
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
