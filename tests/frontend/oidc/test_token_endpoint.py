"""The token endpoint's rules, called directly: codes single-use and bound to client,
redirect_uri and PKCE; refresh tokens rotated, a replay revoking the family; the ID token's
claims (tests/flows/test_tokens.py and test_authorization_code.py go through HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from broker.errors import OAuthError
from broker.frontend.oidc import secrets
from broker.store.records import ClientRecord
from tests.frontend.oidc.conftest import (
    ISSUER,
    REDIRECT,
    T0,
    VERIFIER,
    AddClient,
    Parts,
    authorization_request,
    log_lines,
)


def form(code: str, **changes: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


async def refused(parts: Parts, client: ClientRecord, data: dict[str, str]) -> OAuthError:
    with pytest.raises(OAuthError) as info:
        await parts.tokens.handle(client, data)
    return info.value


async def test_a_code_is_exchanged_for_tokens_and_an_id_token_with_the_grants_claims(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    session = await parts.session()
    code = await parts.code(authorization_request(), session)

    body = await parts.tokens.handle(client, form(code))

    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "id_token",
        "refresh_token",
    }
    assert (body["token_type"], body["expires_in"]) == ("Bearer", parts.ttl.access_token_ttl)
    assert body["scope"] == "openid profile"
    header, claims = parts.keys.verify_jwt(body["id_token"], ["RS256"])
    assert header["typ"] == "JWT"
    assert claims == {
        "iss": ISSUER,
        "sub": parts.subjects.for_client("local-sub", client),
        "aud": "portal",
        "azp": "portal",
        "iat": int(T0),
        "exp": int(T0) + parts.ttl.id_token_ttl,
        "auth_time": int(T0 - 30),
        "at_hash": secrets.left_half_hash(body["access_token"]),
        "nonce": "no",
        "acr": "http://ftn.ficora.fi/2017/loa3",
        "amr": ["suomifi"],
        "sid": session.sid,
    }
    access = await parts.store.grants.get_token(secrets.hash_secret(body["access_token"]))
    refresh = await parts.store.grants.get_token(secrets.hash_secret(body["refresh_token"]))
    assert access is not None and refresh is not None
    assert (access.kind, access.expires_at) == ("access", T0 + parts.ttl.access_token_ttl)
    assert (refresh.kind, refresh.expires_at) == ("refresh", T0 + parts.ttl.refresh_token_ttl)


async def test_an_es256_client_gets_an_es256_id_token(parts: Parts, add_client: AddClient) -> None:
    client = await add_client(id_token_signed_response_alg="ES256")
    code = await parts.code(authorization_request())

    body = await parts.tokens.handle(client, form(code))

    header, _ = parts.keys.verify_jwt(body["id_token"], ["ES256"])
    assert header["alg"] == "ES256"


async def test_a_client_without_refresh_tokens_gets_none(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client(grant_types=("authorization_code",))
    code = await parts.code(authorization_request())

    body = await parts.tokens.handle(client, form(code))

    assert "refresh_token" not in body
    assert len(await parts.store.connection.all("SELECT * FROM tokens", ())) == 1


async def test_a_grant_without_nonce_acr_amr_or_sid_leaves_them_out_of_the_id_token(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    session = await parts.sessions.start("local-sub", acr=None, amr=(), claims={})
    code = await parts.code(authorization_request(nonce=None), session)
    await parts.store.connection.run("UPDATE grants SET sid = NULL", ())

    body = await parts.tokens.handle(client, form(code))

    _, claims = parts.keys.verify_jwt(body["id_token"], ["RS256"])
    assert not {"nonce", "acr", "amr", "sid"} & set(claims)


@pytest.mark.parametrize(
    ("data", "error", "description"),
    [
        ({}, "invalid_request", "grant_type missing"),
        ({"grant_type": ""}, "invalid_request", "grant_type missing"),
        (
            {"grant_type": "password"},
            "unsupported_grant_type",
            "grant_type 'password' is not supported",
        ),
        ({"grant_type": "authorization_code"}, "invalid_request", "code missing"),
        ({"grant_type": "authorization_code", "code": ""}, "invalid_request", "code missing"),
        (
            {"grant_type": "authorization_code", "code": "nope"},
            "invalid_grant",
            "unknown authorization code",
        ),
        ({"grant_type": "refresh_token"}, "invalid_request", "refresh_token missing"),
        (
            {"grant_type": "refresh_token", "refresh_token": "no"},
            "invalid_grant",
            "unknown refresh token",
        ),
    ],
)
async def test_malformed_token_requests_are_refused(
    parts: Parts, add_client: AddClient, data: dict[str, str], error: str, description: str
) -> None:
    client = await add_client()

    exc = await refused(parts, client, data)

    assert (exc.error, exc.description) == (error, description)


# -- codes ---------------------------------------------------------------------------------------


async def test_a_code_is_single_use_and_its_reuse_revokes_what_it_issued(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())
    first = await parts.tokens.handle(client, form(code))
    parts.clock.advance(5)

    exc = await refused(parts, client, form(code))

    assert (exc.error, exc.description) == ("invalid_grant", "authorization code already used")
    (grant,) = await parts.store.connection.all("SELECT revoked_at FROM grants", ())
    assert grant["revoked_at"] == T0 + 5
    exc = await refused(
        parts, client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert exc.description == "grant revoked or expired"


async def test_another_clients_code_is_unknown_and_stays_usable_by_its_owner(
    parts: Parts, add_client: AddClient
) -> None:
    owner = await add_client()
    thief = await add_client("thief")
    code = await parts.code(authorization_request())

    exc = await refused(parts, thief, form(code))

    assert (exc.error, exc.description) == ("invalid_grant", "unknown authorization code")
    assert "access_token" in await parts.tokens.handle(owner, form(code))


@pytest.mark.parametrize(
    "redirect_uri", [None, "", REDIRECT + "/", "https://portal.example.fi/other"]
)
async def test_the_redirect_uri_must_be_the_authorization_requests(
    parts: Parts, add_client: AddClient, redirect_uri: str | None
) -> None:
    client = await add_client(redirect_uris=(REDIRECT, "https://portal.example.fi/other"))
    code = await parts.code(authorization_request())

    exc = await refused(parts, client, form(code, redirect_uri=redirect_uri))

    assert exc.description == "redirect_uri does not match the authorization request"


async def test_a_code_expires_after_its_lifetime(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    late = await parts.code(authorization_request())
    just_in_time = await parts.code(authorization_request())
    parts.clock.advance(parts.ttl.code_ttl - 0.001)

    assert "access_token" in await parts.tokens.handle(client, form(just_in_time))
    parts.clock.advance(0.001)
    exc = await refused(parts, client, form(late))

    assert (exc.error, exc.description) == ("invalid_grant", "authorization code expired")


async def test_a_code_whose_grant_was_revoked_is_refused(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())
    (row,) = await parts.store.connection.all("SELECT grant_id FROM grants", ())
    await parts.store.grants.revoke_grant(row["grant_id"], T0)

    exc = await refused(parts, client, form(code))

    assert (exc.error, exc.description) == ("invalid_grant", "grant revoked or expired")


# -- PKCE ----------------------------------------------------------------------------------------


async def test_a_wrong_verifier_is_refused(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())

    exc = await refused(parts, client, form(code, code_verifier=VERIFIER[:-1] + "w"))

    assert (exc.error, exc.description) == (
        "invalid_grant",
        "code_verifier does not match code_challenge",
    )


async def test_the_challenge_itself_is_not_a_verifier(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    request = authorization_request()
    code = await parts.code(request)
    assert request.code_challenge is not None

    exc = await refused(parts, client, form(code, code_verifier=request.code_challenge))

    assert exc.description == "code_verifier does not match code_challenge"


async def test_a_missing_verifier_is_refused(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())

    exc = await refused(parts, client, form(code, code_verifier=None))

    assert (exc.error, exc.description) == ("invalid_grant", "code_verifier missing")


async def test_a_verifier_without_a_challenge_is_refused(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client(require_pkce=False)
    request = authorization_request(code_challenge=None, code_challenge_method=None)
    code = await parts.code(request)

    exc = await refused(parts, client, form(code))

    assert exc.description == "code_verifier sent but no code_challenge was"


async def test_without_a_challenge_no_verifier_is_needed(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client(require_pkce=False)
    request = authorization_request(code_challenge=None, code_challenge_method=None)
    code = await parts.code(request)

    assert "access_token" in await parts.tokens.handle(client, form(code, code_verifier=None))


@pytest.mark.parametrize(
    "verifier",
    ["v" * 42, "v" * 129, "v" * 42 + "+", "v" * 42 + "=", "v" * 42 + " ", "v" * 43 + "\n"],
)
async def test_a_malformed_verifier_is_refused_before_the_code_is_spent(
    parts: Parts, add_client: AddClient, verifier: str
) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())

    exc = await refused(parts, client, form(code, code_verifier=verifier))

    assert (exc.error, exc.description) == (
        "invalid_request",
        "code_verifier is not 43 to 128 unreserved characters",
    )
    assert "access_token" in await parts.tokens.handle(client, form(code))


@pytest.mark.parametrize("verifier", ["a" * 43, "Z9-._~" * 21 + "ab", "0" * 128])
async def test_every_unreserved_verifier_of_43_to_128_characters_is_accepted(
    parts: Parts, add_client: AddClient, verifier: str
) -> None:
    client = await add_client()
    code = await parts.code(authorization_request(code_challenge=secrets.s256_challenge(verifier)))

    body = await parts.tokens.handle(client, form(code, code_verifier=verifier))

    assert "access_token" in body


# -- refresh tokens ------------------------------------------------------------------------------


async def tokens(parts: Parts, client: ClientRecord, **request: Any) -> dict[str, Any]:
    code = await parts.code(authorization_request(**request))
    return await parts.tokens.handle(client, form(code))


def refresh(token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": token, **extra}


async def test_a_refresh_rotates_the_token_and_omits_the_nonce(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    parts.clock.advance(100)

    second = await parts.tokens.handle(client, refresh(first["refresh_token"]))

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    _, claims = parts.keys.verify_jwt(second["id_token"], ["RS256"])
    assert "nonce" not in claims
    assert claims["iat"] == int(T0 + 100)
    new = await parts.store.grants.get_token(secrets.hash_secret(second["refresh_token"]))
    assert new is not None
    assert new.expires_at == T0 + parts.ttl.refresh_token_ttl  # the grant's end, not later


async def test_a_rotated_refresh_token_presented_again_revokes_its_family(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    second = await parts.tokens.handle(client, refresh(first["refresh_token"]))
    parts.clock.advance(1)

    exc = await refused(parts, client, refresh(first["refresh_token"]))

    assert (exc.error, exc.description) == ("invalid_grant", "refresh token already used")
    exc = await refused(parts, client, refresh(second["refresh_token"]))
    assert exc.description == "grant revoked or expired"
    (grant,) = await parts.store.connection.all("SELECT revoked_at FROM grants", ())
    assert grant["revoked_at"] == T0 + 1


async def test_another_clients_refresh_token_is_unknown_and_stays_usable(
    parts: Parts, add_client: AddClient
) -> None:
    owner = await add_client()
    thief = await add_client("thief")
    first = await tokens(parts, owner)

    exc = await refused(parts, thief, refresh(first["refresh_token"]))

    assert (exc.error, exc.description) == ("invalid_grant", "unknown refresh token")
    assert "access_token" in await parts.tokens.handle(owner, refresh(first["refresh_token"]))


async def test_an_access_token_is_not_a_refresh_token(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    first = await tokens(parts, client)

    exc = await refused(parts, client, refresh(first["access_token"]))

    assert exc.description == "unknown refresh token"


async def test_a_client_no_longer_allowed_refresh_tokens_cannot_use_one(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    narrowed = await add_client(grant_types=("authorization_code",))

    exc = await refused(parts, narrowed, refresh(first["refresh_token"]))

    assert (exc.error, exc.description) == (
        "unauthorized_client",
        "client may not use refresh tokens",
    )
    assert "access_token" in await parts.tokens.handle(client, refresh(first["refresh_token"]))


async def test_an_expired_refresh_token_is_refused(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    await parts.store.connection.run(
        "UPDATE tokens SET expires_at = ? WHERE kind = 'refresh'", (T0 + 10,)
    )
    parts.clock.advance(10)

    exc = await refused(parts, client, refresh(first["refresh_token"]))

    assert (exc.error, exc.description) == ("invalid_grant", "refresh token expired or revoked")


async def test_a_refresh_token_just_before_its_expiry_is_accepted(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    await parts.store.connection.run(
        "UPDATE tokens SET expires_at = ? WHERE kind = 'refresh'", (T0 + 10,)
    )
    parts.clock.advance(9.999)

    assert "access_token" in await parts.tokens.handle(client, refresh(first["refresh_token"]))


async def test_a_revoked_refresh_token_is_refused(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    await parts.store.grants.revoke_token(secrets.hash_secret(first["refresh_token"]), T0)

    exc = await refused(parts, client, refresh(first["refresh_token"]))

    assert exc.description == "refresh token expired or revoked"


async def test_a_refresh_after_the_grant_expired_is_refused(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)
    await parts.store.connection.run("UPDATE grants SET expires_at = ?", (T0 + 10,))
    parts.clock.advance(10)

    exc = await refused(parts, client, refresh(first["refresh_token"]))

    assert exc.description == "grant revoked or expired"


async def test_a_refresh_may_narrow_the_access_tokens_scope_and_keeps_the_refresh_scope(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client, scope=("openid", "profile", "email"))

    narrowed = await parts.tokens.handle(
        client, refresh(first["refresh_token"], scope="email openid email")
    )

    assert narrowed["scope"] == "email openid"
    new = await parts.store.grants.get_token(secrets.hash_secret(narrowed["refresh_token"]))
    assert new is not None
    assert new.scope == ("openid", "profile", "email")
    again = await parts.tokens.handle(client, refresh(narrowed["refresh_token"]))
    assert again["scope"] == "openid profile email"


async def test_a_refresh_cannot_widen_the_scope(parts: Parts, add_client: AddClient) -> None:
    client = await add_client()
    first = await tokens(parts, client)

    exc = await refused(parts, client, refresh(first["refresh_token"], scope="openid email"))

    assert (exc.error, exc.description) == ("invalid_scope", "scope exceeds what was granted")


# -- what operators read -------------------------------------------------------------------------


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str | None]]:
    return log_lines(caplog, "token_endpoint")


async def test_redemptions_and_replays_are_logged_with_the_client(
    parts: Parts, add_client: AddClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", "broker.frontend.oidc.token_endpoint")
    client = await add_client()
    code = await parts.code(authorization_request())
    first = await parts.tokens.handle(client, form(code))
    await refused(parts, client, form(code))
    code = await parts.code(authorization_request())
    second = await parts.tokens.handle(client, form(code))
    await parts.tokens.handle(client, refresh(second["refresh_token"]))
    await refused(parts, client, refresh(second["refresh_token"]))

    assert logged(caplog) == [
        ("INFO", "code redeemed", "portal"),
        ("WARNING", "authorization code reused; its grant revoked", "portal"),
        ("INFO", "code redeemed", "portal"),
        ("WARNING", "refresh token reused; its family revoked", "portal"),
    ]
    assert first["access_token"] not in caplog.text


async def test_a_refresh_may_ask_for_exactly_the_granted_scope(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    first = await tokens(parts, client)

    body = await parts.tokens.handle(
        client, refresh(first["refresh_token"], scope="profile openid")
    )

    assert body["scope"] == "profile openid"


async def test_a_refresh_token_never_outlives_its_grant(
    parts: Parts, add_client: AddClient
) -> None:
    client = await add_client()
    code = await parts.code(authorization_request())
    await parts.store.connection.run("UPDATE grants SET expires_at = ?", (T0 + 0.5,))

    body = await parts.tokens.handle(client, form(code))

    token = await parts.store.grants.get_token(secrets.hash_secret(body["refresh_token"]))
    assert token is not None
    assert token.expires_at == T0  # the whole seconds left: none
