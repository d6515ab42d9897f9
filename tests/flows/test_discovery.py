"""Discovery metadata: what a certified client library reads before anything else."""

from __future__ import annotations

import httpx

from tests.brokers import RunningBroker
from tests.login_walk import log_in
from tests.portal_client import callback_params, portal_client, redeem, start


async def test_metadata_is_complete_and_consistent(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(broker.url + "/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == broker.url
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        assert meta[name].startswith(broker.url + "/")
        reachable = await browser.request("OPTIONS", meta[name])
        assert reachable.status_code != 404, name
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} == set(
        meta["token_endpoint_auth_methods_supported"]
    )
    for endpoint in ("revocation", "introspection"):  # a public client uses them too
        assert set(meta[f"{endpoint}_endpoint_auth_methods_supported"]) == set(
            meta["token_endpoint_auth_methods_supported"]
        )
    assert meta["prompt_values_supported"] == ["none", "login", "select_account"]
    assert meta["subject_types_supported"] == ["pairwise", "public"]
    assert meta["backchannel_logout_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "http://ftn.ficora.fi/2017/loa3" in meta["acr_values_supported"]
    assert {"openid", "profile", "email", "phone", "professional", "national_identity_code"} <= set(
        meta["scopes_supported"]
    )
    assert {
        "partner_organisations",
        "route",
        "idp",
        "organisation_id",
        "organisation_name",
        "title",
        "card_type",
        "prescription_right",
        "email_verified",
        "phone_number_verified",
        "hetu",
    } <= set(meta["claims_supported"])


async def test_unknown_path_is_a_page_not_a_stack_trace(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(broker.url + "/no/such/page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert 'lang="en"' in response.text
    assert "Traceback" not in response.text


async def test_a_public_client_revokes_and_introspects_with_none(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """What discovery says of `none` at /revoke and /introspect is what they do."""
    await broker.add_client("spa", token_endpoint_auth_method="none")
    client = portal_client(broker, "spa", token_endpoint_auth_method="none")
    auth = await start(client)
    response = await log_in(browser, broker, auth.url)
    token = await redeem(client, auth, callback_params(response.headers["location"])["code"])
    form = {"token": token["access_token"], "client_id": "spa"}
    introspected = await browser.post(broker.url + "/introspect", data=form)
    assert introspected.json()["active"] is True
    assert (await browser.post(broker.url + "/revoke", data=form)).status_code == 200
    assert (await browser.post(broker.url + "/introspect", data=form)).json() == {"active": False}
