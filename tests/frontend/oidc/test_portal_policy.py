"""The portal policy's rules where they are written (`frontend/oidc/portal_policy.py`), without
HTTP: which levels a login must reach, whether an answer meets the minimum, and which policies
an operator may register. The flows (choice pages, refusals, SSO) are in
`tests/flows/test_portal_policy.py`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.errors import ConfigError
from broker.frontend.oidc.portal_policy import (
    at_least,
    check_policy,
    check_policy_uri,
    effective_acr_values,
    meets_minimum,
    offers,
)
from broker.store.records import ClientRecord

LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
EIDAS_HIGH = "http://eidas.europa.eu/LoA/high"
SUPPORTED = (LOA2, LOA3, EIDAS_HIGH)  # lowest first, as acr_values_supported lists them

PORTAL = ClientRecord(
    client_id="portal",
    client_name="Portal",
    redirect_uris=("https://portal.example/cb",),
    token_endpoint_auth_method="client_secret_basic",
)


def policy(**fields: object) -> ClientRecord:
    return replace(PORTAL, **fields)  # type: ignore[arg-type]


def test_at_least_is_the_level_and_every_higher_one() -> None:
    assert at_least(LOA2, SUPPORTED) == SUPPORTED
    assert at_least(LOA3, SUPPORTED) == (LOA3, EIDAS_HIGH)
    assert at_least(EIDAS_HIGH, SUPPORTED) == (EIDAS_HIGH,)
    assert at_least("http://unknown/loa", SUPPORTED) == ()
    assert at_least(LOA2, ()) == ()


@pytest.mark.parametrize(
    ("requested", "fields", "expected"),
    [
        # no policy: the request as it is
        ((LOA2,), {}, (LOA2,)),
        ((), {}, ()),
        # a minimum keeps what meets it and drops the rest
        ((LOA2, LOA3), {"minimum_acr": LOA3}, (LOA3,)),
        ((EIDAS_HIGH, LOA2), {"minimum_acr": LOA3}, (EIDAS_HIGH,)),
        # every requested level under the minimum: the minimum and up
        ((LOA2,), {"minimum_acr": LOA3}, (LOA3, EIDAS_HIGH)),
        # no acr_values: the default and up, else the minimum and up
        ((), {"default_acr": LOA3}, (LOA3, EIDAS_HIGH)),
        ((), {"default_acr": LOA3, "minimum_acr": LOA2}, (LOA3, EIDAS_HIGH)),
        ((), {"minimum_acr": LOA3}, (LOA3, EIDAS_HIGH)),
        # a default applies only without acr_values: the request wins over it
        ((LOA2,), {"default_acr": LOA3}, (LOA2,)),
    ],
)
def test_the_levels_a_login_must_reach(
    requested: tuple[str, ...], fields: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert effective_acr_values(requested, policy(**fields), SUPPORTED) == expected


@pytest.mark.parametrize(
    ("acr", "minimum", "meets"),
    [
        (LOA2, None, True),
        (None, None, True),
        (LOA2, LOA3, False),
        (None, LOA3, False),
        ("http://unknown/loa", LOA3, False),
        (LOA3, LOA3, True),
        (EIDAS_HIGH, LOA3, True),
        (LOA2, LOA2, True),
    ],
)
def test_an_answer_meets_the_minimum_only_at_or_above_it(
    acr: str | None, minimum: str | None, meets: bool
) -> None:
    assert meets_minimum(acr, policy(minimum_acr=minimum), SUPPORTED) is meets


def test_an_empty_list_offers_everything_and_a_list_only_its_items() -> None:
    assert offers((), "hus")
    assert offers(("hus", "oys"), "oys")
    assert not offers(("hus",), "oys")
    assert not offers(("hus",), "hu")  # whole items, not prefixes


def check(client: ClientRecord, development: bool = False) -> None:
    check_policy(
        client,
        routes=("organisation", "personal"),
        idps=("hus", "suomifi"),
        acr_values_supported=SUPPORTED,
        development=development,
    )


def refusal(client: ClientRecord, development: bool = False) -> str:
    with pytest.raises(ConfigError) as refused:
        check(client, development)
    return str(refused.value)


def test_a_policy_naming_only_what_the_broker_has_is_accepted() -> None:
    check(PORTAL)
    check(
        policy(
            routes=("personal",),
            idps=("suomifi",),
            default_acr=EIDAS_HIGH,
            minimum_acr=LOA3,
            policy_uri="https://portal.example/privacy",
        )
    )
    check(policy(default_acr=LOA3, minimum_acr=LOA3))
    check(policy(policy_uri="http://localhost:8000/privacy"), development=True)


def test_each_unknown_name_is_refused_with_the_field_and_what_is_known() -> None:
    assert refusal(policy(routes=("personal", "walk-in", "anon"))) == (
        "portal: routes: unknown ['anon', 'walk-in']; known: ['organisation', 'personal']"
    )
    assert refusal(policy(idps=("hus", "tyks"))) == (
        "portal: idps: unknown ['tyks']; known: ['hus', 'suomifi']"
    )
    assert refusal(policy(default_acr="loa3")) == (
        f"portal: default_acr: 'loa3' is not in {list(SUPPORTED)}"
    )
    assert refusal(policy(minimum_acr="loa3")) == (
        f"portal: minimum_acr: 'loa3' is not in {list(SUPPORTED)}"
    )


def test_a_default_below_the_minimum_is_refused() -> None:
    assert refusal(policy(default_acr=LOA2, minimum_acr=LOA3)) == (
        f"portal: default_acr: below minimum_acr {LOA3}"
    )


@pytest.mark.parametrize(
    ("uri", "development"),
    [
        ("http://portal.example/privacy", False),  # plain http only in development
        ("http:///privacy", True),  # no host
        ("ftp://portal.example/privacy", True),
        ("javascript:alert(1)", True),
        ("https://portal.example/pri vacy", False),
        ("https://portal.example/privacy\n", False),
        ("https://[::1/privacy", False),  # unparseable
        ("http://[::1/privacy", True),
        ("/privacy", False),
    ],
)
def test_a_privacy_notice_must_be_an_https_url(uri: str, development: bool) -> None:
    assert refusal(policy(policy_uri=uri), development) == (
        f"portal: policy_uri: {uri!r} must be an https URL"
    )


def test_the_notice_check_names_the_field_it_was_given() -> None:
    check_policy_uri("https://portal.example/privacy", development=False, field="x")
    check_policy_uri("http://127.0.0.1:8000/privacy", development=True, field="x")
    with pytest.raises(ConfigError, match=r"^--policy-uri: 'http://a/' must be an https URL$"):
        check_policy_uri("http://a/", development=False, field="--policy-uri")
