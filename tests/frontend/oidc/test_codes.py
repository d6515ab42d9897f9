"""The authorization response: the redirect to the portal, and the grant and code it stores."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from broker.errors import UntrustedRequestError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.codes import redirect_with
from tests.frontend.oidc.conftest import (
    ISSUER,
    REDIRECT,
    T0,
    AddClient,
    Parts,
    authorization_request,
)


async def test_the_redirect_carries_code_state_and_issuer_and_nothing_else(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client()
    url = await parts.codes.authorization_response(authorization_request(), await parts.session())

    base, _, query = url.partition("?")
    assert base == REDIRECT
    params = parse_qsl(query, strict_parsing=True)
    assert [name for name, _ in params] == ["code", "state", "iss"]
    assert dict(params)["state"] == "st"
    assert dict(params)["iss"] == ISSUER
    assert len(dict(params)["code"]) == 43


async def test_without_state_the_redirect_has_none(parts: Parts, add_client: AddClient) -> None:
    await add_client()
    url = await parts.codes.authorization_response(
        authorization_request(state=None), await parts.session()
    )

    assert [name for name, _ in parse_qsl(urlsplit(url).query)] == ["code", "iss"]


async def test_the_code_is_stored_only_as_a_hash_bound_to_client_redirect_and_pkce(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client()
    code = await parts.code(authorization_request())

    rows = await parts.store.connection.all("SELECT * FROM codes", ())
    assert len(rows) == 1
    row = rows[0]
    assert row["code_hash"] == secrets.hash_secret(code)
    assert code not in str(row)
    assert (row["client_id"], row["redirect_uri"]) == ("portal", REDIRECT)
    assert row["code_challenge"] == authorization_request().code_challenge
    assert row["code_challenge_method"] == "S256"
    assert row["expires_at"] == T0 + parts.ttl.code_ttl
    assert row["used_at"] is None


async def test_the_grant_holds_the_session_and_request_and_the_portals_own_sub(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    session = await parts.session()
    await parts.code(authorization_request(), session)

    (row,) = await parts.store.connection.all("SELECT grant_id FROM grants", ())
    grant = await parts.store.grants.get_grant(row["grant_id"])
    assert grant is not None
    assert grant.client_id == "portal"
    assert grant.sub == parts.subjects.for_client("local-sub", client) != "local-sub"
    assert (grant.sid, grant.auth_time) == (session.sid, session.auth_time)
    assert (grant.acr, grant.amr) == (session.acr, session.amr)
    assert (grant.scope, grant.nonce) == (("openid", "profile"), "no")
    assert (grant.created_at, grant.expires_at) == (T0, T0 + parts.ttl.refresh_token_ttl)
    assert grant.revoked_at is None


async def test_a_public_subject_client_gets_the_local_sub(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client(subject_type="public")
    await parts.code(authorization_request())

    (row,) = await parts.store.connection.all("SELECT sub FROM grants", ())
    assert row["sub"] == "local-sub"


async def test_the_grant_keeps_only_the_claims_its_scopes_release(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client()
    session = await parts.session(name="Maija", email="m@example.fi", hetu="010101-123N")
    await parts.code(authorization_request(scope=("openid", "email")), session)

    (row,) = await parts.store.connection.all("SELECT grant_id FROM grants", ())
    grant = await parts.store.grants.get_grant(row["grant_id"])
    assert grant is not None
    assert grant.claims == {"email": "m@example.fi"}


async def test_the_session_learns_which_portal_took_part(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client()
    session = await parts.session()
    await parts.code(authorization_request(), session)

    assert await parts.sessions.end(session.sid) == ["portal"]


async def test_a_client_removed_during_the_login_gets_no_code(parts: Parts) -> None:
    with pytest.raises(UntrustedRequestError, match="no longer registered"):
        await parts.codes.authorization_response(authorization_request(), await parts.session())

    assert await parts.store.connection.all("SELECT * FROM codes", ()) == []


def test_redirect_with_keeps_the_registered_query_and_drops_none() -> None:
    url = redirect_with("https://p.example/cb?tenant=a%20b", {"code": "c d", "state": None})

    assert url == "https://p.example/cb?tenant=a%20b&code=c+d"


def test_redirect_with_on_a_uri_without_query_adds_only_the_parameters() -> None:
    assert redirect_with("https://p.example/cb", {"error": "x", "iss": "i"}) == (
        "https://p.example/cb?error=x&iss=i"
    )
    assert redirect_with("https://p.example/cb", {}) == "https://p.example/cb"
    assert redirect_with("https://p.example/cb?a=1", {}) == "https://p.example/cb?a=1"
