"""What a normalised identity offers portals, and the scopes and claims discovery lists."""

from __future__ import annotations

from broker.claims.identity import Identity
from broker.claims.scopes import TOKEN_CLAIMS, supported_claims, supported_scopes


def test_profile_claims_are_the_standard_and_the_brokers_own_and_nothing_empty() -> None:
    identity = Identity(
        idp_id="hus",
        issuer="https://idp.example",
        subject="s",
        route="organisation",
        name="Maija Meikäläinen",
        given_name="Maija",
        family_name="Meikäläinen",
        email="maija@hus.fi",
        phone_number="+358401234567",
        organisation_id="hus",
        organisation_name="HUS",
        title="Lääkäri",
        hetu="010280-952L",
        municipality_code="091",
        acr="loa3",
    )
    assert identity.profile_claims() == {
        "name": "Maija Meikäläinen",
        "given_name": "Maija",
        "family_name": "Meikäläinen",
        "email": "maija@hus.fi",
        "phone_number": "+358401234567",
        "organisation_id": "hus",
        "organisation_name": "HUS",
        "title": "Lääkäri",
        "route": "organisation",
    }
    bare = Identity(idp_id="suomifi", issuer="i", subject="s", route="personal")
    assert bare.profile_claims() == {"route": "personal"}


def test_discovery_lists_every_scope_and_claim_once() -> None:
    scopes = supported_scopes()
    assert scopes[0] == "openid" and scopes[-1] == "offline_access"
    assert {"profile", "email", "phone", "professional", "national_identity_code"} <= set(scopes)
    assert len(scopes) == len(set(scopes))
    claims = supported_claims()
    assert claims[: len(TOKEN_CLAIMS)] == list(TOKEN_CLAIMS)
    assert {"email", "email_verified", "partner_organisations", "hetu"} <= set(claims)
