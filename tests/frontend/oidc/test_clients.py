"""A portal's registration, each check that refuses one which would weaken the provider, with the
whole message naming the field (what `sote-broker clients add` prints): the client_id, the auth
method and its credentials, redirect and server URIs (https, loopback, development), grant
types, scopes, the identity code's switch, the signing alg, the subject type and its sector."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.errors import ConfigError
from broker.frontend.oidc.clients import (
    AUTH_METHODS,
    check_client,
    check_redirect_uri,
    check_server_uri,
)
from broker.store.records import ClientRecord

PORTAL = ClientRecord(
    client_id="portal",
    client_name="Portal",
    redirect_uris=("https://portal.example/cb",),
    token_endpoint_auth_method="client_secret_basic",
    secret_hash="h",
)


def refusal(client: ClientRecord, *, development: bool = False) -> str:
    with pytest.raises(ConfigError) as refused:
        check_client(client, development=development)
    return str(refused.value)


def test_a_sound_registration_passes() -> None:
    check_client(PORTAL, development=False)
    check_client(
        replace(
            PORTAL,
            client_id="p" * 200,
            token_endpoint_auth_method="private_key_jwt",
            secret_hash=None,
            jwks={"keys": []},
            post_logout_redirect_uris=("https://portal.example/bye",),
            backchannel_logout_uri="https://portal.example/bc",
            jwks_uri="https://portal.example/jwks",
            grant_types=("authorization_code",),
            id_token_signed_response_alg="ES256",
            subject_type="public",
            release_national_identity_code=True,
        ),
        development=False,
    )
    keyed = replace(PORTAL, token_endpoint_auth_method="private_key_jwt", secret_hash=None)
    check_client(replace(keyed, jwks={"keys": []}), development=False)  # either kind of keys
    check_client(replace(keyed, jwks_uri="https://portal.example/jwks"), development=False)
    public = replace(PORTAL, token_endpoint_auth_method="none", secret_hash=None)
    check_client(public, development=False)
    post = replace(PORTAL, token_endpoint_auth_method="client_secret_post")
    check_client(post, development=False)
    assert AUTH_METHODS == ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


@pytest.mark.parametrize("client_id", ["", "p" * 201, "a b", "tab\there", "nl\n"])
def test_the_client_id_is_printable_without_spaces(client_id: str) -> None:
    assert refusal(replace(PORTAL, client_id=client_id)) == (
        "client_id: expected 1-200 printable characters without spaces"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_endpoint_auth_method": "tls_client_auth"},
         "portal: token_endpoint_auth_method: expected one of ('client_secret_basic', "
         "'client_secret_post', 'private_key_jwt', 'none')"),
        ({"redirect_uris": ()}, "portal: redirect_uris: at least one is required"),
        ({"secret_hash": None}, "portal: client_secret_basic needs a secret"),
        ({"secret_hash": ""}, "portal: client_secret_basic needs a secret"),
        ({"token_endpoint_auth_method": "client_secret_post", "secret_hash": None},
         "portal: client_secret_post needs a secret"),
        ({"token_endpoint_auth_method": "private_key_jwt"},
         "portal: private_key_jwt needs jwks_uri or jwks"),
        ({"token_endpoint_auth_method": "none"},
         "portal: a public client (none) cannot have a secret"),
        ({"token_endpoint_auth_method": "none", "secret_hash": None, "require_pkce": False},
         "portal: a public client (none) must use PKCE"),
        ({"grant_types": ("authorization_code", "password", "implicit")},
         "portal: grant_types: unknown ['implicit', 'password']"),
        ({"allowed_scopes": ("profile",)}, "portal: allowed_scopes: must include openid"),
        ({"allowed_scopes": ("openid", "roles", "admin")},
         "portal: allowed_scopes: unknown ['admin', 'roles']"),
        ({"allowed_scopes": ("openid", "national_identity_code")},
         "portal: allowed_scopes: national_identity_code is not listed; it comes with "
         "release_national_identity_code (clients add --release-national-identity-code)"),
        ({"token_endpoint_auth_method": "none", "secret_hash": None,
          "release_national_identity_code": True},
         "portal: release_national_identity_code: a public client (none) cannot have it"),
        ({"id_token_signed_response_alg": "HS256"},
         "portal: id_token_signed_response_alg: expected one of ('RS256', 'ES256')"),
        ({"subject_type": "random"},
         "portal: subject_type: expected one of ('pairwise', 'public')"),
        ({"sector_identifier": "https://portal.example"},
         "portal: sector_identifier: expected a host name, e.g. portal.example.fi"),
        ({"sector_identifier": "Portal.example"},
         "portal: sector_identifier: expected a host name, e.g. portal.example.fi"),
        ({"sector_identifier": "-portal.example"},
         "portal: sector_identifier: expected a host name, e.g. portal.example.fi"),
        ({"sector_identifier": "a" * 64 + ".example"},
         "portal: sector_identifier: expected a host name, e.g. portal.example.fi"),
        ({"redirect_uris": ("https://a.example/cb", "https://b.example/cb")},
         "portal: sector_identifier: redirect_uris on several hosts need one (pairwise sub)"),
    ],
)  # fmt: skip
def test_each_weakening_registration_is_refused_by_field(
    changes: dict[str, object], message: str
) -> None:
    assert refusal(replace(PORTAL, **changes)) == message  # type: ignore[arg-type]


def test_a_sector_identifier_or_a_public_subject_allows_several_hosts() -> None:
    several = replace(PORTAL, redirect_uris=("https://a.example/cb", "https://b.example/cb"))
    check_client(replace(several, sector_identifier="portal.example.fi"), development=False)
    check_client(replace(several, subject_type="public"), development=False)
    same_host = ("https://a.example/cb", "https://a.example/other")
    check_client(replace(PORTAL, redirect_uris=same_host), development=False)
    check_client(replace(PORTAL, sector_identifier="a" * 63 + ".example"), development=False)
    with pytest.raises(ConfigError, match="expected a host name"):
        check_client(replace(PORTAL, sector_identifier="a." * 127 + "fi"), development=False)


def test_each_uri_field_is_checked_and_named() -> None:
    plain = "http://portal.example/x"
    assert refusal(replace(PORTAL, redirect_uris=(plain,))) == (
        f"portal: redirect_uris: {plain!r} must use https"
    )
    assert refusal(replace(PORTAL, post_logout_redirect_uris=(plain,))) == (
        f"portal: post_logout_redirect_uris: {plain!r} must use https"
    )
    assert refusal(replace(PORTAL, backchannel_logout_uri=plain)) == (
        f"portal: backchannel_logout_uri: {plain!r} must use https"
    )
    assert refusal(replace(PORTAL, jwks_uri=plain)) == f"portal: jwks_uri: {plain!r} must use https"
    dev = replace(PORTAL, redirect_uris=(plain,), post_logout_redirect_uris=(plain,),
                  backchannel_logout_uri=plain, jwks_uri=plain)  # fmt: skip
    check_client(dev, development=True)


@pytest.mark.parametrize(
    ("uri", "development", "problem"),
    [
        ("https://portal.example/cb", False, None),
        ("http://127.0.0.1:8080/cb", False, None),
        ("http://localhost/cb", False, None),
        ("http://[::1]:8080/cb", False, None),
        ("http://portal.example/cb", True, None),
        ("http://portal.example/cb", False, "must use https"),
        ("http://127.0.0.2/cb", False, "must use https"),
        ("ftp://127.0.0.1/cb", False, "must use https"),
        ("ftp://portal.example/cb", True, "must use https"),
        ("/cb", False, "must be an absolute URI without a fragment"),
        ("https:///cb", False, "must be an absolute URI without a fragment"),
        ("https://portal.example/cb#x", False, "must be an absolute URI without a fragment"),
        ("https://portal.example/cb#", False, "must be an absolute URI without a fragment"),
    ],
)
def test_redirect_uris(uri: str, development: bool, problem: str | None) -> None:
    if problem is None:
        check_redirect_uri(uri, development=development, field="f")
        return
    with pytest.raises(ConfigError) as refused:
        check_redirect_uri(uri, development=development, field="f")
    assert str(refused.value) == f"f: {uri!r} {problem}"


@pytest.mark.parametrize(
    ("uri", "development", "problem"),
    [
        ("https://portal.example/bc", False, None),
        ("http://portal.example/bc", True, None),
        ("http://127.0.0.1:9000/bc", True, None),
        ("http://127.0.0.1:9000/bc", False, "must use https"),  # no loopback exception
        ("http://localhost/bc", False, "must use https"),
        ("http:///bc", True, "must use https"),  # no host
        ("ftp://portal.example/bc", True, "must use https"),
        ("https:///bc", False, "must use https"),
        ("https://portal.example/bc#x", False, "must be an absolute URI without a fragment"),
        ("https://portal.example/bc#", True, "must be an absolute URI without a fragment"),
    ],
)
def test_server_uris(uri: str, development: bool, problem: str | None) -> None:
    if problem is None:
        check_server_uri(uri, development=development, field="f")
        return
    with pytest.raises(ConfigError) as refused:
        check_server_uri(uri, development=development, field="f")
    assert str(refused.value) == f"f: {uri!r} {problem}"
