"""The registry's own rules, on typed objects rather than files: which IdPs exist and are
offered, where a first login goes, how trust in the identity code is declared, and the refusal
of broken configuration with the message an operator reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from broker.claims.mapping import ClaimMapping
from broker.errors import ConfigError
from broker.upstream.registry import (
    HIGH_ASSURANCE,
    IdP,
    JourneyConfig,
    Names,
    OIDCUpstream,
    Registry,
    SAMLUpstream,
    SecretRef,
    empty_registry,
)

NAMES = {"fi": "Nimi", "sv": "Namn", "en": "Name"}


def names(fi: str) -> dict[str, str]:
    return {"fi": fi, "sv": fi + " sv", "en": fi + " en"}


def oidc_idp(idp_id: str, **fields: Any) -> IdP:
    data: dict[str, Any] = {
        "id": idp_id,
        "names": names(idp_id.upper()),
        "route": "organisation",
        "protocol": "oidc",
        "oidc": {
            "issuer": f"https://{idp_id}.example",
            "client_id": "broker",
            "client_secret": {"env": "SECRET"},
        },
    }
    return IdP.model_validate(data | fields)


def saml_section(**fields: Any) -> dict[str, Any]:
    return {"metadata_url": "https://idp.example/metadata"} | fields


def journey(**fields: Any) -> JourneyConfig:
    data: dict[str, Any] = {
        "roles": [{"id": "professional", "names": NAMES, "routes": ["organisation", "personal"]}],
        "routes": [
            {"id": "organisation", "kind": "organisation", "names": NAMES, "groups": ["shp"]},
            {"id": "personal", "kind": "personal", "names": NAMES, "idps": ["suomifi"]},
        ],
        "groups": [{"id": "shp", "names": NAMES}, {"id": "empty", "names": NAMES}],
    }
    return JourneyConfig.model_validate(data | fields)


def suomifi(**fields: Any) -> IdP:
    data: dict[str, Any] = {
        "id": "suomifi",
        "names": names("Suomi.fi"),
        "route": "personal",
        "protocol": "saml",
        "saml": saml_section(),
        "claims": {"hetu": "urn:oid:1.2.246.21"},
        "trust_identity_code": True,
    }
    return IdP.model_validate(data | fields)


def registry(*idps: IdP, **journey_fields: Any) -> Registry:
    return Registry(journey(**journey_fields), {i.id: i for i in idps})


def messages(refused: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [str(e["msg"]) for e in refused.value.errors()]


# -- which IdPs exist -----------------------------------------------------------------------------


def test_a_disabled_idp_is_neither_found_nor_offered() -> None:
    found = registry(
        suomifi(),
        oidc_idp("hus", group="shp"),
        oidc_idp("tyks", group="shp", enabled=False),
    )
    hus = found.idp("hus")
    assert hus is not None and hus.id == "hus"
    assert found.idp("tyks") is None
    assert found.idp("nobody") is None
    assert [i.id for i in found.idps()] == ["suomifi", "hus"]
    assert [i.id for i in found.idps_in_group("shp")] == ["hus"]


def test_a_group_lists_its_enabled_idps_by_finnish_name_ignoring_case() -> None:
    found = registry(
        suomifi(),
        oidc_idp("b", group="shp", names=names("beta")),
        oidc_idp("c", group="empty", names=names("Aaa")),
        oidc_idp("a", group="shp", names=names("Alpha")),
        oidc_idp("d", group="shp", names=names("ÄBC")),
        oidc_idp("e", names=names("Aardvark")),
    )
    assert [i.id for i in found.idps_in_group("shp")] == ["a", "b", "d"]
    assert [i.id for i in found.idps_in_group("empty")] == ["c"]
    assert found.idps_in_group("nowhere") == []


def test_roles_routes_and_groups_are_found_by_id() -> None:
    found = registry(suomifi())
    role = found.role("professional")
    assert role is not None and role.routes == ("organisation", "personal")
    route = found.route("personal")
    assert route is not None and route.idps == ("suomifi",) and route.kind == "personal"
    group = found.group("empty")
    assert group is not None and group.id == "empty"
    assert (found.role("citizen"), found.route("x"), found.group("x")) == (None, None, None)


def test_the_empty_registry_logs_nobody_in() -> None:
    empty = empty_registry()
    assert empty.idps() == []
    assert empty.role("professional") is None
    assert empty.journey.roles == () and empty.journey.routes == () and empty.journey.groups == ()


def test_the_email_domain_finds_an_enabled_organisation_only() -> None:
    found = registry(
        suomifi(),
        oidc_idp("hus", email_domains=["hus.fi"]),
        oidc_idp("tyks", email_domains=["tyks.fi"], enabled=False),
    )
    hus = found.idp_for_email("  Maija@HUS.FI ")
    assert hus is not None and hus.id == "hus"
    assert found.idp_for_email("maija@hus.fi.evil.example") is None
    assert found.idp_for_email("maija@tyks.fi") is None
    bare = found.idp_for_email("hus.fi")  # a bare domain is taken as the domain
    assert bare is not None and bare.id == "hus"
    assert found.idp_for_email("maija@") is None


def test_an_address_without_a_domain_matches_no_idp_with_an_empty_domain_listed() -> None:
    found = registry(suomifi(), oidc_idp("odd", email_domains=[""]))
    assert found.idp_for_email("maija@") is None
    assert found.idp_for_email("maija@ ") is None


# -- references between the files ---------------------------------------------------------------


def test_a_role_naming_an_unknown_route_is_refused() -> None:
    roles = [{"id": "professional", "names": NAMES, "routes": ["personal", "zz", "aa"]}]
    with pytest.raises(ConfigError) as refused:
        registry(suomifi(), roles=roles)
    assert str(refused.value) == "journey.yaml: role professional: routes: unknown ['aa', 'zz']"


def test_a_route_naming_an_unknown_group_is_refused() -> None:
    routes = [{"id": "organisation", "kind": "organisation", "names": NAMES, "groups": ["x"]}]
    roles = [{"id": "professional", "names": NAMES, "routes": ["organisation"]}]
    with pytest.raises(ConfigError) as refused:
        registry(roles=roles, routes=routes)
    assert str(refused.value) == "journey.yaml: route organisation: groups: unknown ['x']"


def test_a_route_naming_an_unknown_idp_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        registry(oidc_idp("hus"))
    assert str(refused.value) == "journey.yaml: route personal: idps: unknown ['suomifi']"


def test_a_route_naming_a_disabled_idp_is_accepted() -> None:
    found = registry(suomifi(enabled=False))
    assert found.idps() == []


def test_an_idp_in_an_unknown_group_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        registry(suomifi(), oidc_idp("hus", group="nowhere"))
    assert str(refused.value) == "hus.yaml: group: unknown group 'nowhere'"


# -- where a first login goes --------------------------------------------------------------------


def test_registration_the_idps_own_setting_wins() -> None:
    hus = oidc_idp("hus", group="shp", registration="required")
    assert registry(suomifi(), hus).registration(hus) == "required"


def test_registration_by_the_route_that_offers_the_group() -> None:
    hus = oidc_idp("hus", group="shp")
    routes = [
        {"id": "organisation", "kind": "organisation", "names": NAMES, "groups": ["shp"]},
        {"id": "personal", "kind": "personal", "names": NAMES, "idps": ["suomifi"]},
    ]
    found = registry(suomifi(), hus, routes=routes)
    assert found.registration(hus) == "automatic"  # organisation's kind
    routes[0]["registration"] = "required"
    assert registry(suomifi(), hus, routes=routes).registration(hus) == "required"


def test_registration_by_the_route_that_names_the_idp() -> None:
    idp = suomifi()
    assert registry(idp).registration(idp) == "required"  # personal's kind
    routes = [
        {
            "id": "personal",
            "kind": "personal",
            "names": NAMES,
            "idps": ["suomifi"],
            "registration": "automatic",
        }
    ]
    roles = [{"id": "professional", "names": NAMES, "routes": ["personal"]}]
    assert registry(idp, routes=routes, roles=roles).registration(idp) == "automatic"


def test_registration_of_an_idp_no_route_offers_is_by_its_own_route_kind() -> None:
    loose = oidc_idp("loose")  # organisation, in no group, named by no route
    assert registry(suomifi(), loose).registration(loose) == "automatic"
    personal = oidc_idp("own", route="personal")
    assert registry(suomifi(), personal).registration(personal) == "required"


def test_registration_a_route_offering_another_group_does_not_decide() -> None:
    """An IdP without a group is not taken as offered by a route listing groups."""
    hus = oidc_idp("hus", route="personal")
    routes = [
        {
            "id": "organisation",
            "kind": "organisation",
            "names": NAMES,
            "groups": ["shp"],
            "registration": "automatic",
        },
        {"id": "personal", "kind": "personal", "names": NAMES, "idps": ["suomifi"]},
    ]
    assert registry(suomifi(), hus, routes=routes).registration(hus) == "required"


# -- trust in the identity code ------------------------------------------------------------------


def test_trust_in_the_identity_code_is_off_unless_declared_and_high_by_default() -> None:
    hus = oidc_idp("hus")
    assert hus.trust_identity_code is False
    assert suomifi().trust_identity_code is True
    assert (
        suomifi().identity_code_acr
        == HIGH_ASSURANCE
        == (
            "http://ftn.ficora.fi/2017/loa3",
            "http://eidas.europa.eu/LoA/high",
        )
    )


def test_trust_in_an_identity_code_without_its_claim_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        suomifi(claims={})
    assert messages(refused) == [
        "Value error, trust_identity_code: true needs claims.hetu (the code's claim)"
    ]
    assert suomifi(claims={}, trust_identity_code=False).claims == ClaimMapping()


# -- the protocol sections -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"saml": saml_section()}, "protocol oidc needs an oidc section and no saml section"),
        ({"oidc": None}, "protocol oidc needs an oidc section and no saml section"),
        (
            {"protocol": "saml", "saml": saml_section()},
            "protocol saml needs a saml section and no oidc section",
        ),
        ({"protocol": "saml"}, "protocol saml needs a saml section and no oidc section"),
    ],
)
def test_the_protocol_needs_its_own_section_alone(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        oidc_idp("hus", **fields)
    assert messages(refused) == [f"Value error, {message}"]


def test_settings_of_the_other_protocol_are_refused() -> None:
    hus, idp = oidc_idp("hus"), suomifi()
    assert hus.oidc_settings.client_id == "broker"
    assert idp.saml_settings.metadata_url == "https://idp.example/metadata"
    with pytest.raises(ConfigError) as refused:
        _ = hus.saml_settings
    assert str(refused.value) == "hus: not a SAML IdP"
    with pytest.raises(ConfigError) as refused:
        _ = idp.oidc_settings
    assert str(refused.value) == "suomifi: not an OIDC IdP"


def test_the_organisation_name_is_the_finnish_name() -> None:
    assert oidc_idp("hus", names=NAMES).organisation_name == "Nimi"


@pytest.mark.parametrize("idp_id", ["", "Hus", "-hus", "a" * 41, "hus.fi", "../etc"])
def test_an_idp_id_is_a_short_lowercase_name(idp_id: str) -> None:
    with pytest.raises(ValidationError):
        oidc_idp(idp_id)


def test_names_by_locale_fall_back_to_finnish() -> None:
    found = Names.model_validate(NAMES)
    assert [found.get(x) for x in ("fi", "sv", "en", "de")] == ["Nimi", "Namn", "Name", "Nimi"]


# -- OIDC ----------------------------------------------------------------------------------------


def test_oidc_metadata_url_is_the_discovery_url_or_the_issuers_well_known() -> None:
    hus = oidc_idp("hus").oidc_settings
    assert hus.metadata_url == "https://hus.example/.well-known/openid-configuration"
    slash = OIDCUpstream.model_validate(
        {"issuer": "https://idp.example/t/", "client_id": "c", "client_secret": {"env": "S"}}
    )
    assert slash.metadata_url == "https://idp.example/t/.well-known/openid-configuration"
    own = slash.model_copy(update={"discovery_url": "https://idp.example/discovery"})
    assert own.metadata_url == "https://idp.example/discovery"


# -- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [{}, {"env": "A", "value": "b"}, {"env": "A", "file": "f"}])
def test_a_secret_comes_from_exactly_one_place(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as refused:
        SecretRef.model_validate(given)
    assert messages(refused) == ["Value error, give exactly one of env, file or value"]


def test_a_secret_is_read_from_its_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SecretRef(value="inline").resolve() == "inline"
    monkeypatch.setenv("IDP_SECRET", "from-env")
    assert SecretRef(env="IDP_SECRET").resolve() == "from-env"
    (tmp_path / "secret").write_text("  from-file\n", encoding="utf-8")
    assert SecretRef(file=tmp_path / "secret").resolve() == "from-file"


def test_an_unset_or_empty_environment_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IDP_SECRET", raising=False)
    with pytest.raises(ConfigError) as refused:
        SecretRef(env="IDP_SECRET").resolve()
    assert str(refused.value) == "environment variable IDP_SECRET is not set"
    monkeypatch.setenv("IDP_SECRET", "")
    with pytest.raises(ConfigError, match=r"^environment variable IDP_SECRET is not set$"):
        SecretRef(env="IDP_SECRET").resolve()


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as refused:
        SecretRef(file=missing).resolve()
    assert str(refused.value) == f"{missing}: cannot read secret (No such file or directory)"


def test_a_secret_reference_built_around_the_check_is_refused() -> None:
    broken = SecretRef.model_construct(env=None, file=None, value=None)
    with pytest.raises(ConfigError) as refused:
        broken.resolve()
    assert str(refused.value) == "secret reference without env, file or value"


# -- SAML ----------------------------------------------------------------------------------------


def test_saml_needs_exactly_one_metadata_source() -> None:
    for given in ({}, {"metadata_url": "https://x", "metadata_file": "m.xml"}):
        with pytest.raises(ValidationError) as refused:
            SAMLUpstream.model_validate(given)
        assert messages(refused) == [
            "Value error, give exactly one of metadata_url or metadata_file"
        ]
    assert SAMLUpstream(metadata_file=Path("m.xml")).metadata_url is None


def test_saml_protects_assertions_unless_told_otherwise() -> None:
    saml = SAMLUpstream.model_validate(saml_section())
    assert saml.want_assertions_signed is True
    assert saml.want_assertions_encrypted is True
    assert saml.allow_unsolicited is False
    assert saml.encryption_algorithms == ("aes128-gcm", "aes256-gcm", "rsa-oaep-mgf1p", "rsa-oaep")


@pytest.mark.parametrize(
    "algorithms", [["aes128-gcm"], ["rsa-oaep"], ["aes128-gcm", "aes256-cbc"], []]
)
def test_saml_encryption_names_data_and_key_transport(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        SAMLUpstream.model_validate(saml_section(encryption_algorithms=algorithms))
    assert messages(refused) == [
        "Value error, name at least one aes* (data) and one rsa-* (key transport)"
    ]


def test_saml_one_signing_certificate_may_be_given_alone() -> None:
    one = SAMLUpstream.model_validate(saml_section(metadata_signing_certificates="a.crt"))
    assert one.metadata_signing_certificates == (Path("a.crt"),)
    one = SAMLUpstream.model_validate(saml_section(metadata_signing_certificates=Path("a.crt")))
    assert one.metadata_signing_certificates == (Path("a.crt"),)
    two = SAMLUpstream.model_validate(saml_section(metadata_signing_certificates=["a", "b"]))
    assert two.metadata_signing_certificates == (Path("a"), Path("b"))


def test_saml_requested_attributes_are_names_or_described() -> None:
    saml = SAMLUpstream.model_validate(
        saml_section(
            requested_attributes=(
                "urn:oid:1",
                {"name": "urn:oid:2", "friendly_name": "cn", "required": True},
            )
        )
    )
    assert [a.model_dump() for a in saml.requested_attributes] == [
        {"name": "urn:oid:1", "friendly_name": None, "required": False},
        {"name": "urn:oid:2", "friendly_name": "cn", "required": True},
    ]
    with pytest.raises(ValidationError):
        SAMLUpstream.model_validate(saml_section(requested_attributes="urn:oid:1"))


def test_registration_a_route_not_offering_the_idps_group_does_not_decide() -> None:
    """The first route listed (personal, `required`) offers neither the IdP nor its group: the
    route that offers its group decides."""
    hus = oidc_idp("hus", group="shp")
    routes = [
        {"id": "personal", "kind": "personal", "names": NAMES, "idps": ["suomifi"]},
        {"id": "organisation", "kind": "organisation", "names": NAMES, "groups": ["shp"]},
    ]
    assert registry(suomifi(), hus, routes=routes).registration(hus) == "automatic"
