"""normalise(): one Identity from a RawIdentity, field by field through the IdP's claim mapping."""

from __future__ import annotations

from typing import Any

from broker.claims.identity import RawIdentity
from broker.claims.mapping import ClaimMapping, normalise
from broker.upstream.registry import IdP


def make_idp(**overrides: Any) -> IdP:
    data: dict[str, Any] = {
        "id": "hus",
        "names": {"fi": "HUS (fi)", "sv": "HUS (sv)", "en": "HUS (en)"},
        "route": "organisation",
        "protocol": "oidc",
        "oidc": {
            "issuer": "https://idp.example/hus",
            "client_id": "sote-broker",
            "client_secret": {"value": "x"},
        },
        **overrides,
    }
    return IdP.model_validate(data)


def make_raw(claims: dict[str, Any], **overrides: Any) -> RawIdentity:
    fields: dict[str, Any] = {
        "idp_id": "hus",
        "issuer": "https://idp.example/hus",
        "subject": "sub-1",
        "claims": claims,
        **overrides,
    }
    return RawIdentity(**fields)


STANDARD = {
    "name": "Maija Meikäläinen",
    "given_name": "Maija",
    "family_name": "Meikäläinen",
    "email": "maija@hus.example.fi",
    "phone_number": "+358500001001",
}


def test_default_mapping_takes_the_standard_claims() -> None:
    identity = normalise(make_idp(), make_raw(STANDARD))
    assert identity.name == "Maija Meikäläinen"
    assert identity.given_name == "Maija"
    assert identity.family_name == "Meikäläinen"
    assert identity.email == "maija@hus.example.fi"
    assert identity.phone_number == "+358500001001"
    assert identity.title is None
    assert identity.hetu is None


def test_identity_keeps_who_and_how_from_the_raw_identity() -> None:
    raw = make_raw(STANDARD, acr="loa3", amr=("pwd", "otp"), auth_time=1700000000.0)
    identity = normalise(make_idp(), raw)
    assert (identity.idp_id, identity.issuer, identity.subject) == (
        "hus",
        "https://idp.example/hus",
        "sub-1",
    )
    assert identity.acr == "loa3"
    assert identity.amr == ("pwd", "otp")
    assert identity.auth_time == 1700000000.0


def test_organisation_route_names_the_organisation_in_finnish() -> None:
    identity = normalise(make_idp(), make_raw({}))
    assert identity.route == "organisation"
    assert identity.organisation_id == "hus"
    assert identity.organisation_name == "HUS (fi)"


def test_personal_route_has_no_organisation() -> None:
    identity = normalise(make_idp(id="suomifi", route="personal"), make_raw({}))
    assert identity.route == "personal"
    assert identity.organisation_id is None
    assert identity.organisation_name is None


def test_mapping_renames_claims() -> None:
    idp = make_idp(claims={"email": "mail", "title": "jobTitle", "name": "displayName"})
    raw = make_raw(
        {
            "mail": "m@example.fi",
            "email": "other@example.fi",
            "jobTitle": "Lääkäri",
            "displayName": "M M",
        }
    )
    identity = normalise(idp, raw)
    assert identity.email == "m@example.fi"
    assert identity.title == "Lääkäri"
    assert identity.name == "M M"


def test_unmapped_field_stays_empty_even_if_the_claim_is_there() -> None:
    idp = make_idp(claims={"phone_number": None, "email": None})
    identity = normalise(idp, make_raw(STANDARD))
    assert identity.phone_number is None
    assert identity.email is None
    assert identity.name == "Maija Meikäläinen"


def test_hetu_only_when_mapped_and_trusted() -> None:
    claims = {**STANDARD, "hetu": "010190-999X"}
    assert normalise(make_idp(), make_raw(claims)).hetu is None
    trusted = make_idp(claims={"hetu": "hetu"}, trust_identity_code=True)
    mapped = normalise(trusted, make_raw(claims))
    assert mapped.hetu == "010190-999X"
    assert "010190-999X" not in repr(mapped)


def test_an_untrusted_idps_hetu_is_dropped() -> None:
    """Not an identity code anyone vouches for: neither a key to an account nor a claim."""
    claims = {**STANDARD, "hetu": "010190-999X"}
    untrusted = make_idp(claims={"hetu": "hetu"})
    assert untrusted.trust_identity_code is False  # the default
    assert normalise(untrusted, make_raw(claims)).hetu is None


def test_non_string_values_are_ignored() -> None:
    claims = {
        "name": ["Maija"],
        "email": 42,
        "given_name": None,
        "family_name": {"x": 1},
        "phone_number": True,
    }
    identity = normalise(make_idp(), make_raw(claims))
    assert (identity.name, identity.email, identity.given_name) == (None, None, None)
    assert (identity.family_name, identity.phone_number) == (None, None)


def test_strings_are_stripped_and_blank_is_none() -> None:
    claims = {"name": "  Maija M \n", "email": "   ", "given_name": ""}
    identity = normalise(make_idp(), make_raw(claims))
    assert identity.name == "Maija M"
    assert identity.email is None
    assert identity.given_name is None


def test_missing_claims_are_none() -> None:
    identity = normalise(make_idp(claims={"title": "title"}), make_raw({}))
    assert identity.profile_claims() == {
        "organisation_id": "hus",
        "organisation_name": "HUS (fi)",
        "route": "organisation",
    }


MUNICIPALITY, PROTECTION = "urn:oid:1.2.246.517.2002.2.18", "urn:oid:1.2.246.517.2002.2.27"


def test_the_home_municipality_is_read_only_without_address_protection() -> None:
    """The broker's own rule, whatever the IdP sends: an IdP that sends the municipality next
    to a set turvakielto flag (or no flag at all) gets nothing address-like kept."""
    idp = make_idp(claims={"municipality_code": MUNICIPALITY, "address_protection": PROTECTION})
    for flag, expected in (("false", "091"), ("true", None), ("1", None), (None, None)):
        claims = {MUNICIPALITY: "091"} | ({PROTECTION: flag} if flag is not None else {})
        identity = normalise(idp, make_raw(claims))
        assert identity.municipality_code == expected, flag
        assert "091" not in str(identity.profile_claims())  # never released
    unmapped = normalise(make_idp(), make_raw({MUNICIPALITY: "091", PROTECTION: "false"}))
    assert unmapped.municipality_code is None


LOA2, LOA3 = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"


def test_the_acr_an_upstream_request_asks_for_is_in_the_idps_own_words() -> None:
    """Every upstream value the mapping gives a broker level, in the order asked and once each;
    a level the mapping does not name is asked as it is."""
    mapping = ClaimMapping(acr_values={"urn:org:mfa": LOA3, "urn:org:card": LOA3, "pwd": LOA2})
    assert mapping.upstream_acr([LOA3]) == ["urn:org:mfa", "urn:org:card"]
    assert mapping.upstream_acr([LOA2, LOA3]) == ["pwd", "urn:org:mfa", "urn:org:card"]
    assert mapping.upstream_acr([LOA3, LOA3]) == ["urn:org:mfa", "urn:org:card"]
    assert mapping.upstream_acr(["urn:other"]) == ["urn:other"]
    assert mapping.upstream_acr(["urn:other", LOA2, "urn:other"]) == ["urn:other", "pwd"]
    assert ClaimMapping().upstream_acr([LOA3, LOA2]) == [LOA3, LOA2]
    assert mapping.upstream_acr([]) == []


def test_the_acr_an_idp_answers_is_read_in_the_brokers_words() -> None:
    mapping = ClaimMapping(acr_values={"urn:org:mfa": LOA3})
    assert mapping.broker_acr("urn:org:mfa", LOA2) == LOA3
    assert mapping.broker_acr("urn:org:unknown", LOA2) == "urn:org:unknown"
    for nothing in (None, "", 3, ["urn:org:mfa"]):
        assert mapping.broker_acr(nothing, LOA2) == LOA2
        assert mapping.broker_acr(nothing, None) is None


def test_a_home_municipality_code_is_three_digits_or_nothing() -> None:
    idp = make_idp(claims={"municipality_code": MUNICIPALITY, "address_protection": PROTECTION})
    for code, expected in (("091", "091"), ("0910", None), ("9a1", None), ("", None), (91, None)):
        identity = normalise(idp, make_raw({MUNICIPALITY: code, PROTECTION: "false"}))
        assert identity.municipality_code == expected, code
