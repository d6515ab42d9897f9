"""What a portal can do with a token, called directly: userinfo (OIDC Core §5.3) answers only a
live access token with openid, and opens the sealed identity code only there; introspection
(RFC 7662) tells only the token's own client, exactly; revocation (RFC 7009) of an unknown token
is no error, of another client's is refused, and a refresh token takes its family along."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from broker.claims.sealed import Sealer
from broker.errors import (
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    MissingTokenError,
    UnauthorizedClientError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.resources import TokenResources
from broker.store.records import ClientRecord
from tests.frontend.oidc.conftest import (
    ISSUER,
    REDIRECT,
    SUBJECT_KEY,
    T0,
    VERIFIER,
    AddClient,
    Parts,
    authorization_request,
)

TESSA = "010280-952L"


def resources(parts: Parts) -> TokenResources:
    return TokenResources(parts.store, parts.clock, ISSUER, Sealer(SUBJECT_KEY))


async def issued(
    parts: Parts,
    client: ClientRecord,
    scope: tuple[str, ...] = ("openid", "profile"),
    **claims: Any,
) -> tuple[dict[str, Any], str]:
    """Tokens for `client` from a fresh login; and the local subject's sub for the client."""
    session = await parts.session(**claims) if claims else await parts.session()
    code = await parts.code(authorization_request(scope=scope), session)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    body = await parts.tokens.handle(client, form)
    return body, parts.subjects.for_client("local-sub", client)


async def test_userinfo_answers_a_live_access_token_with_its_scopes_claims(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    body, sub = await issued(parts, client)
    assert await resources(parts).userinfo(body["access_token"]) == {
        "sub": sub,
        "name": "Maija Meikäläinen",
    }


async def test_userinfo_opens_the_sealed_identity_code_and_drops_a_foreign_one(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client(release_national_identity_code=True)
    scope = ("openid", "national_identity_code")
    sealed = Sealer(SUBJECT_KEY).seal(TESSA)
    body, sub = await issued(parts, client, scope, hetu=sealed)
    assert await resources(parts).userinfo(body["access_token"]) == {"sub": sub, "hetu": TESSA}
    other = Sealer(b"x" * 32).seal(TESSA)  # sealed by another broker's key
    body, sub = await issued(parts, client, scope, hetu=other)
    assert await resources(parts).userinfo(body["access_token"]) == {"sub": sub}


async def test_userinfo_refuses_anything_but_a_live_access_token(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    body, _ = await issued(parts, client)
    api = resources(parts)
    for missing in (None, ""):
        with pytest.raises(MissingTokenError):
            await api.userinfo(missing)
    for value in ("unknown", body["refresh_token"]):
        with pytest.raises(InvalidTokenError) as refused:
            await api.userinfo(value)
        assert refused.value.description == "access token invalid, expired or revoked"
    parts.clock.advance(parts.ttl.access_token_ttl - 1)
    assert (await api.userinfo(body["access_token"]))["name"] == "Maija Meikäläinen"
    parts.clock.advance(1)  # expired at exactly its expiry
    with pytest.raises(InvalidTokenError):
        await api.userinfo(body["access_token"])


async def test_userinfo_needs_the_openid_scope(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    body, _ = await issued(parts, client)
    access = await parts.store.grants.get_token(secrets.hash_secret(body["access_token"]))
    assert access is not None
    token = "a-token-without-openid"
    without = replace(access, token_hash=secrets.hash_secret(token), scope=("profile",))
    await parts.store.grants.put_tokens([without])
    with pytest.raises(InsufficientScopeError) as refused:
        await resources(parts).userinfo(token)
    assert refused.value.description == "the openid scope is required"


async def test_a_revoked_token_or_grant_is_dead_everywhere(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    api = resources(parts)
    body, _ = await issued(parts, client)
    await parts.store.grants.revoke_token(secrets.hash_secret(body["access_token"]), T0)
    with pytest.raises(InvalidTokenError):
        await api.userinfo(body["access_token"])
    assert await api.introspect(client, {"token": body["access_token"]}) == {"active": False}

    body, _ = await issued(parts, client)
    access = await parts.store.grants.get_token(secrets.hash_secret(body["access_token"]))
    assert access is not None
    await parts.store.grants.revoke_grant(access.grant_id, T0)
    with pytest.raises(InvalidTokenError):
        await api.userinfo(body["access_token"])
    assert await api.introspect(client, {"token": body["refresh_token"]}) == {"active": False}


async def test_introspection_tells_the_tokens_client_exactly(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    other = await add_client("other")
    body, sub = await issued(parts, client)
    api = resources(parts)
    access = await parts.store.grants.get_token(secrets.hash_secret(body["access_token"]))
    assert access is not None
    grant = await parts.store.grants.get_grant(access.grant_id)
    assert grant is not None and grant.sid
    common = {
        "active": True,
        "scope": "openid profile",
        "client_id": "portal",
        "sub": sub,
        "aud": "portal",
        "iss": ISSUER,
        "iat": int(T0),
        "sid": grant.sid,
    }
    assert await api.introspect(client, {"token": body["access_token"]}) == {
        **common,
        "exp": int(T0) + parts.ttl.access_token_ttl,
        "token_type": "Bearer",
    }
    assert await api.introspect(client, {"token": body["refresh_token"]}) == {
        **common,
        "exp": int(T0) + parts.ttl.refresh_token_ttl,
        "token_type": "refresh_token",
    }
    assert await api.introspect(other, {"token": body["access_token"]}) == {"active": False}
    assert await api.introspect(client, {"token": "unknown"}) == {"active": False}
    for form in ({}, {"token": ""}):
        with pytest.raises(InvalidRequestError) as refused:
            await api.introspect(client, form)
        assert refused.value.description == "token missing"


async def test_a_used_refresh_token_is_inactive_and_a_grant_without_sid_names_none(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    body, _ = await issued(parts, client)
    refresh = await parts.store.grants.get_token(secrets.hash_secret(body["refresh_token"]))
    assert refresh is not None
    await parts.tokens.handle(
        client, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    api = resources(parts)
    assert await api.introspect(client, {"token": body["refresh_token"]}) == {"active": False}
    await parts.store.connection.run("UPDATE grants SET sid = NULL", ())
    answer = await api.introspect(client, {"token": body["access_token"]})
    assert answer["active"] is True and "sid" not in answer


async def test_revocation_by_kind_and_by_client(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    other = await add_client("other")
    api = resources(parts)
    body, _ = await issued(parts, client)
    await api.revoke(client, {"token": "unknown"})  # no error (RFC 7009 §2.2)
    with pytest.raises(UnauthorizedClientError) as refused:
        await api.revoke(other, {"token": body["access_token"]})
    assert refused.value.description == "token was issued to another client"
    for form in ({}, {"token": ""}):
        with pytest.raises(InvalidRequestError) as missing:
            await api.revoke(client, form)
        assert missing.value.description == "token missing"

    parts.clock.advance(3)
    await api.revoke(client, {"token": body["access_token"]})  # the access token alone
    access = await parts.store.grants.get_token(secrets.hash_secret(body["access_token"]))
    assert access is not None and access.revoked_at == T0 + 3
    assert (await api.introspect(client, {"token": body["refresh_token"]}))["active"] is True

    await api.revoke(client, {"token": body["refresh_token"]})  # the whole family
    grant = await parts.store.grants.get_grant(access.grant_id)
    assert grant is not None and grant.revoked_at == T0 + 3
    assert await api.introspect(client, {"token": body["refresh_token"]}) == {"active": False}
