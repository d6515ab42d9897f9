"""The release function with the claims a login leaves in the SSO session once professional
accounts are wired in (the journey does not yet produce all of them; the HTTP tests in
tests/flows/test_claims_release.py run the same policy end to end)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from broker.claims.release import permitted_scopes, release
from broker.claims.scopes import SCOPE_CLAIMS, supported_claims, supported_scopes
from broker.errors import ConfigError
from broker.frontend.oidc.clients import check_client
from broker.store.records import ClientRecord

SESSION: dict[str, Any] = {
    "name": "Maija Meikäläinen",
    "given_name": "Maija",
    "family_name": "Meikäläinen",
    "organisation_id": "hus",
    "organisation_name": "HUS - Helsingin ja Uudenmaan sairaanhoitopiiri",
    "title": "Sairaanhoitaja",
    "route": "organisation",
    "idp": "hus",
    "card_type": "henkilostokortti",
    "prescription_right": False,
    "hetu": "010280-952L",
    "email": "maija@example.fi",
    "email_verified": True,
    "phone_number": "+358401234567",
    "phone_number_verified": False,
    "updated_at": 1_700_000_000,
    "partner_organisations": [
        {
            "id": "area:pirkanmaa",
            "kind": "wellbeing_area",
            "code": None,
            "names": {"fi": "Pirkanmaan hyvinvointialue", "sv": "Birkalands", "en": "Pirkanmaa"},
        }
    ],
}
PORTAL = ClientRecord(
    client_id="portal",
    client_name="Portal",
    redirect_uris=("https://portal.example/cb",),
    token_endpoint_auth_method="client_secret_basic",
    secret_hash="x",
    allowed_scopes=("openid", "profile", "email", "phone", "professional"),
)
REGISTRY = replace(PORTAL, client_id="registry", release_national_identity_code=True)
EVERYTHING = ("openid", "profile", "email", "phone", "professional", "national_identity_code")


def test_each_scope_releases_its_claims_and_openid_alone_none() -> None:
    assert release(SESSION, ["openid"], PORTAL) == {}
    assert release(SESSION, ["openid", "profile"], PORTAL) == {
        "name": "Maija Meikäläinen",
        "given_name": "Maija",
        "family_name": "Meikäläinen",
        "updated_at": 1_700_000_000,
    }
    assert release(SESSION, ["email"], PORTAL) == {
        "email": "maija@example.fi",
        "email_verified": True,
    }
    assert release(SESSION, ["phone"], PORTAL) == {
        "phone_number": "+358401234567",
        "phone_number_verified": False,  # False is a value, released as such
    }


def test_professional_scope() -> None:
    released = release(SESSION, ["openid", "professional"], PORTAL)
    assert set(released) == {
        "partner_organisations",
        "route",
        "idp",
        "organisation_id",
        "organisation_name",
        "title",
        "card_type",
        "prescription_right",
    }
    assert released["partner_organisations"] == SESSION["partner_organisations"]
    assert release(SESSION, ["openid", "profile"], PORTAL).keys().isdisjoint(released)


def test_identity_code_needs_both_the_scope_and_the_permission() -> None:
    assert "hetu" not in release(SESSION, EVERYTHING, PORTAL)
    assert "hetu" not in release(SESSION, EVERYTHING[:-1], REGISTRY)
    assert release(SESSION, ["openid", "national_identity_code"], REGISTRY) == {
        "hetu": "010280-952L"
    }
    assert "national_identity_code" in permitted_scopes(REGISTRY)
    assert "national_identity_code" not in permitted_scopes(PORTAL)


def test_absent_values_and_scopes_no_longer_allowed_release_nothing() -> None:
    assert release({"name": None}, ["profile"], PORTAL) == {}
    narrowed = replace(PORTAL, allowed_scopes=("openid", "profile"))
    assert set(release(SESSION, EVERYTHING, narrowed)) == {
        "name",
        "given_name",
        "family_name",
        "updated_at",
    }
    assert release(SESSION, EVERYTHING, None) == {}  # the client was removed


def test_discovery_lists_every_scope_and_claim() -> None:
    assert {"professional", "national_identity_code"} <= set(supported_scopes())
    names = supported_claims()
    assert {c for claims in SCOPE_CLAIMS.values() for c in claims} <= set(names)
    assert "hetu" in names and len(names) == len(set(names))


def test_client_check_keeps_one_switch_for_the_identity_code() -> None:
    check_client(REGISTRY, development=False)
    listed = replace(PORTAL, allowed_scopes=("openid", "national_identity_code"))
    with pytest.raises(ConfigError, match="release_national_identity_code"):
        check_client(listed, development=False)
    public = replace(
        REGISTRY, token_endpoint_auth_method="none", secret_hash=None, require_pkce=True
    )
    with pytest.raises(ConfigError, match="public client"):
        check_client(public, development=False)


def test_a_scope_the_portal_may_not_have_skips_only_itself() -> None:
    """The identity code's scope asked by a portal without that permission releases nothing of
    its own, and the scopes after it still release theirs."""
    assert not PORTAL.release_national_identity_code
    released = release(SESSION, ["national_identity_code", "email"], PORTAL)
    assert released == {"email": "maija@example.fi", "email_verified": True}
