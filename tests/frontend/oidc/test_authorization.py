"""The authorization request's rules, called directly (tests/flows/test_authorize_refusals.py
shows the pages and redirects they become over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from broker.errors import (
    AuthorizationRedirectError,
    OAuthError,
    UntrustedRequestError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import (
    MAX_PARAM_LENGTH,
    AuthorizationRequest,
    validate_authorization_request,
)
from broker.store.records import ClientRecord
from tests.frontend.oidc.conftest import REDIRECT, client_record

CHALLENGE = secrets.s256_challenge("v" * 43)
ACRS = ("http://ftn.ficora.fi/2017/loa3", "http://ftn.ficora.fi/2017/loa2")


def params(**changes: str | None) -> dict[str, str]:
    """A valid request; a change to None leaves that parameter out."""
    base: dict[str, str | None] = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "st",
        "nonce": "no",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    merged = base | changes
    return {k: v for k, v in merged.items() if v is not None}


def validate(
    request: dict[str, str],
    client: ClientRecord | None = None,
    *,
    duplicates: frozenset[str] = frozenset(),
    require_pkce: bool = False,
    **client_fields: Any,
) -> AuthorizationRequest:
    return validate_authorization_request(
        request,
        duplicates,
        client if client is not None else client_record(**client_fields),
        acr_values_supported=ACRS,
        require_pkce=require_pkce,
    )


def redirected(request: dict[str, str], **kwargs: Any) -> OAuthError:
    """The OAuth error sent back to the validated redirect_uri with the request's state."""
    with pytest.raises(AuthorizationRedirectError) as info:
        validate(request, **kwargs)
    assert info.value.redirect_uri == REDIRECT
    assert info.value.state == request.get("state")
    return info.value.cause


def test_a_valid_request_keeps_every_parameter() -> None:
    request = validate(
        params(
            scope="openid profile openid email",
            prompt="login select_account",
            max_age="300",
            acr_values="unknown http://ftn.ficora.fi/2017/loa2 http://ftn.ficora.fi/2017/loa3",
            ui_locales="sv fi",
            login_hint="hint",
            idp_hint="suomifi",
        )
    )

    assert request == AuthorizationRequest(
        client_id="portal",
        redirect_uri=REDIRECT,
        scope=("openid", "profile", "email"),
        state="st",
        nonce="no",
        code_challenge=CHALLENGE,
        code_challenge_method="S256",
        prompt=("login", "select_account"),
        max_age=300,
        acr_values=("http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"),
        ui_locales="sv fi",
        login_hint="hint",
        idp_hint="suomifi",
    )
    assert AuthorizationRequest.from_json(request.to_json()) == request


def test_optional_parameters_default_to_nothing() -> None:
    request = validate(params(state=None, nonce=None))

    assert (request.state, request.nonce, request.prompt, request.max_age) == (None, None, (), None)
    assert (request.acr_values, request.ui_locales, request.login_hint) == ((), None, None)
    assert request.idp_hint is None


def test_from_json_turns_lists_and_missing_tuples_back_into_tuples() -> None:
    data = validate(params()).to_json() | {"scope": ["openid"], "prompt": None}
    del data["acr_values"]

    restored = AuthorizationRequest.from_json(data)

    assert (restored.scope, restored.prompt, restored.acr_values) == (("openid",), (), ())


# -- before the redirect_uri is trusted: a page, never a redirect ------------------------------


def test_an_unknown_client_is_a_page() -> None:
    with pytest.raises(UntrustedRequestError, match=r"^unknown client_id$"):
        validate_authorization_request(
            params(), frozenset(), None, acr_values_supported=ACRS, require_pkce=False
        )


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/",
        REDIRECT + "?x=1",
        REDIRECT.upper(),
        REDIRECT.replace("https", "http"),
        REDIRECT[:-1],
        REDIRECT + "#f",
    ],
)
def test_a_redirect_uri_that_is_not_registered_character_for_character_is_a_page(
    redirect_uri: str,
) -> None:
    with pytest.raises(
        UntrustedRequestError, match=r"^redirect_uri not registered for this client$"
    ):
        validate(params(redirect_uri=redirect_uri))


def test_a_missing_or_empty_redirect_uri_is_a_page() -> None:
    for request in (params(redirect_uri=None), params(redirect_uri="")):
        with pytest.raises(UntrustedRequestError, match=r"^redirect_uri missing$"):
            validate(request)


def test_any_registered_redirect_uri_is_accepted() -> None:
    other = "https://portal.example.fi/other"
    request = validate(params(redirect_uri=other), redirect_uris=(REDIRECT, other))

    assert request.redirect_uri == other


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_repeated_client_id_or_redirect_uri_is_a_page(name: str) -> None:
    with pytest.raises(UntrustedRequestError, match=r"^client_id or redirect_uri repeated$"):
        validate(params(), duplicates=frozenset({name}))


# -- after it: an OAuth error back to the portal -------------------------------------------------


def test_another_repeated_parameter_is_invalid_request() -> None:
    cause = redirected(params(), duplicates=frozenset({"state", "nonce"}))

    assert cause.error == "invalid_request"
    assert cause.description == "repeated parameter: nonce"


def test_a_parameter_longer_than_the_limit_is_refused() -> None:
    assert validate(params(nonce="n" * MAX_PARAM_LENGTH)).nonce == "n" * MAX_PARAM_LENGTH

    cause = redirected(params(nonce="n" * (MAX_PARAM_LENGTH + 1)))

    assert (cause.error, cause.description) == ("invalid_request", "parameter too long")


@pytest.mark.parametrize(
    ("name", "error", "description"),
    [
        ("request", "request_not_supported", "request objects are not supported"),
        ("request_uri", "request_uri_not_supported", "request_uri is not supported"),
        ("registration", "registration_not_supported", "registration parameter is not supported"),
    ],
)
def test_request_objects_and_registration_are_refused(
    name: str, error: str, description: str
) -> None:
    cause = redirected(params(**{name: "x"}))

    assert (cause.error, cause.description) == (error, description)


@pytest.mark.parametrize("response_type", [None, "token", "id_token", "code id_token", "CODE"])
def test_only_response_type_code_is_supported(response_type: str | None) -> None:
    cause = redirected(params(response_type=response_type))

    assert (cause.error, cause.description) == (
        "unsupported_response_type",
        "only response_type=code is supported",
    )


def test_response_mode_query_is_accepted_and_any_other_refused() -> None:
    assert validate(params(response_mode="query")).client_id == "portal"

    for mode in ("fragment", "form_post"):
        cause = redirected(params(response_mode=mode))
        assert (cause.error, cause.description) == (
            "invalid_request",
            "only response_mode=query is supported",
        )


def test_a_client_without_the_code_grant_is_unauthorized() -> None:
    cause = redirected(params(), grant_types=("refresh_token",))

    assert (cause.error, cause.description) == (
        "unauthorized_client",
        "client may not use the authorization code grant",
    )


# -- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [None, "", "profile", "OPENID", "openidx"])
def test_scope_must_include_openid(scope: str | None) -> None:
    cause = redirected(params(scope=scope))

    assert (cause.error, cause.description) == ("invalid_scope", "scope must include openid")


def test_a_scope_the_client_is_not_allowed_is_refused_by_name() -> None:
    cause = redirected(
        params(scope="openid profile phone email"), allowed_scopes=("openid", "profile")
    )

    assert (cause.error, cause.description) == (
        "invalid_scope",
        "scope not allowed for this client: phone",
    )


def test_the_identity_code_scope_needs_the_clients_permission() -> None:
    scope = "openid national_identity_code"
    cause = redirected(params(scope=scope))
    assert (cause.error, cause.description) == (
        "invalid_scope",
        "scope not allowed for this client: national_identity_code",
    )

    request = validate(params(scope=scope), release_national_identity_code=True)

    assert request.scope == ("openid", "national_identity_code")


# -- PKCE ----------------------------------------------------------------------------------------


def test_pkce_s256_is_kept() -> None:
    request = validate(params())

    assert (request.code_challenge, request.code_challenge_method) == (CHALLENGE, "S256")


@pytest.mark.parametrize("method", [None, "plain", "s256", "S512"])
def test_a_challenge_with_any_method_but_s256_is_refused(method: str | None) -> None:
    cause = redirected(params(code_challenge_method=method))

    assert (cause.error, cause.description) == (
        "invalid_request",
        "code_challenge_method must be S256",
    )


@pytest.mark.parametrize(
    "challenge",
    [CHALLENGE[:-1], CHALLENGE + "A", CHALLENGE[:-1] + "=", CHALLENGE[:-1] + "+", "v" * 43 + "\n"],
)
def test_a_challenge_that_is_not_a_base64url_sha256_is_refused(challenge: str) -> None:
    cause = redirected(params(code_challenge=challenge))

    assert cause.description == "code_challenge is not a base64url SHA-256 digest"


def test_every_base64url_character_is_accepted_in_a_challenge() -> None:
    for challenge in ("A" * 21 + "z" * 21 + "_", "0" * 21 + "9" * 21 + "-", "Zaz09_-" * 6 + "a"):
        assert validate(params(code_challenge=challenge)).code_challenge == challenge


@pytest.mark.parametrize(
    ("client_fields", "require_pkce"),
    [
        ({"require_pkce": True}, False),
        ({"require_pkce": False}, True),
        (
            {
                "require_pkce": False,
                "token_endpoint_auth_method": "none",
                "secret_hash": None,
            },
            False,
        ),
    ],
    ids=["client-requires", "provider-requires", "public-client"],
)
def test_pkce_is_required_by_the_client_the_provider_or_a_public_client(
    client_fields: dict[str, Any], require_pkce: bool
) -> None:
    request = params(code_challenge=None, code_challenge_method=None)
    cause = redirected(request, client=client_record(**client_fields), require_pkce=require_pkce)

    assert cause.description == "code_challenge required (PKCE with S256)"


def test_without_any_requirement_pkce_may_be_left_out() -> None:
    request = validate(
        params(code_challenge=None, code_challenge_method=None),
        client=client_record(require_pkce=False),
    )

    assert (request.code_challenge, request.code_challenge_method) == (None, None)


def test_a_method_without_a_challenge_is_refused() -> None:
    cause = redirected(params(code_challenge=None), client=client_record(require_pkce=False))

    assert cause.description == "code_challenge_method without code_challenge"


# -- prompt, max_age, acr_values -----------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["consent", "login consent", "LOGIN", "none select"])
def test_an_unsupported_prompt_is_refused_by_name(prompt: str) -> None:
    cause = redirected(params(prompt=prompt))

    assert cause.error == "invalid_request"
    assert cause.description.startswith("unsupported prompt value: ")
    assert cause.description.split(": ")[1] in prompt.split()


def test_the_first_unknown_prompt_is_named_in_sorted_order() -> None:
    cause = redirected(params(prompt="zzz consent"))

    assert cause.description == "unsupported prompt value: consent"


@pytest.mark.parametrize("prompt", ["none", "login", "select_account", "login select_account"])
def test_supported_prompts_are_kept_in_order(prompt: str) -> None:
    assert validate(params(prompt=prompt)).prompt == tuple(prompt.split())


@pytest.mark.parametrize("prompt", ["none login", "select_account none"])
def test_prompt_none_with_another_value_is_refused(prompt: str) -> None:
    cause = redirected(params(prompt=prompt))

    assert cause.description == "prompt=none cannot be combined with other values"


@pytest.mark.parametrize("max_age", ["0", "1", "999999999"])
def test_max_age_is_a_non_negative_integer(max_age: str) -> None:
    assert validate(params(max_age=max_age)).max_age == int(max_age)


@pytest.mark.parametrize(
    "max_age", ["", "-1", "1.5", "abc", "1000000000", " 1", "1e3", "1\n", "\u00b2", "\u0661"]
)
def test_a_max_age_that_is_not_a_small_non_negative_integer_is_refused(max_age: str) -> None:
    cause = redirected(params(max_age=max_age))

    assert cause.description == "max_age must be a non-negative integer"


def test_acr_values_keep_only_supported_values_in_the_portals_order() -> None:
    request = validate(params(acr_values=f"x {ACRS[1]} y {ACRS[0]}"))

    assert request.acr_values == (ACRS[1], ACRS[0])
    assert validate(params(acr_values="x y")).acr_values == ()
