"""The broker's SAML service provider (`sp.py`, `sp_settings.py`) without an IdP: the pysaml2
settings every IdP's client is built on (signatures required, keys only from the metadata, no
temporary file left with a decrypted assertion), the backend each crypto choice gets, and what the
signed SP metadata says of the organisation, its contacts, its entity attributes, its validity
and the algorithms it offers.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from broker.errors import ConfigError
from broker.upstream.saml.crypto import InProcessCrypto, ProgramCrypto
from broker.upstream.saml.pysaml2 import SecurityContext
from broker.upstream.saml.sp import (
    Contact,
    EntityAttribute,
    Organisation,
    ServiceProvider,
    sp_metadata_xml,
)
from broker.upstream.saml.sp_keys import KeyPair, ServiceProviderKeys, SPKeyRing
from broker.upstream.saml.sp_settings import Localised, SAMLServiceProviderSettings

SP_ENTITY_ID = "https://broker.test/saml/metadata"
ACS_URL = "https://broker.test/upstream/saml/acs"
SLO_URL = "https://broker.test/upstream/saml/slo"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
ALG = "{urn:oasis:names:tc:SAML:metadata:algsupport}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FINNISH_AUTH_METHOD = "FinnishAuthMethod"
HETU = "urn:oid:1.2.246.21"


def test_the_settings_require_signed_answers_and_the_metadatas_keys(tmp_path: Path) -> None:
    """What every IdP's pysaml2 client is built on; `sp` settings add to the SP section."""
    active, following = KeyPair.in_directory(tmp_path, "a"), KeyPair.in_directory(tmp_path, "b")
    keys = ServiceProviderKeys(active=active, next=following)
    sp = ServiceProvider(SP_ENTITY_ID, keys, "/opt/xmlsec1", "xmlsec1")
    settings = sp.settings(
        acs_url=ACS_URL, slo_url=SLO_URL, idp_metadata=["<md/>"], want_response_signed=True
    )
    assert settings == {
        "entityid": SP_ENTITY_ID,
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(ACS_URL, POST)],
                    "single_logout_service": [(SLO_URL, REDIRECT)],
                },
                "authn_requests_signed": True,
                "want_assertions_signed": True,
                "want_assertions_or_response_signed": True,
                "name_id_format": TRANSIENT,
                "name_id_policy_format": TRANSIENT,
                "requested_attribute_name_format": URI,
                "want_response_signed": True,
            }
        },
        "key_file": str(active.key_file),
        "cert_file": str(active.cert_file),
        "additional_cert_files": [str(following.cert_file)],
        "encryption_keypairs": [
            {"key_file": str(active.key_file), "cert_file": str(active.cert_file)},
            {"key_file": str(following.key_file), "cert_file": str(following.cert_file)},
        ],
        "xmlsec_binary": "/opt/xmlsec1",
        "metadata": {"inline": ["<md/>"]},
        "signing_algorithm": RSA_SHA256,
        "digest_algorithm": SHA256,
        "only_use_keys_in_metadata": True,
        "allow_unknown_attributes": True,
        "delete_tmpfiles": True,
    }


def test_without_slo_nor_metadata_nothing_is_said_of_them(tmp_path: Path) -> None:
    keys = ServiceProviderKeys(active=KeyPair.in_directory(tmp_path, "a"))
    settings = ServiceProvider(SP_ENTITY_ID, keys, "", "xmlsec").settings(acs_url=ACS_URL)
    assert settings["service"]["sp"]["endpoints"] == {
        "assertion_consumer_service": [(ACS_URL, POST)]
    }
    assert settings["metadata"] == {}
    assert (settings["additional_cert_files"], settings["encryption_keypairs"]) == (
        [],
        [{"key_file": str(keys.key_file), "cert_file": str(keys.cert_file)}],
    )
    # in process: pysaml2's own context needs nothing installed, and no program is named
    assert settings["crypto_backend"] == "XMLSecurity"
    assert "xmlsec_binary" not in settings


@pytest.mark.parametrize(
    ("backend", "crypto"), [("xmlsec", InProcessCrypto), ("xmlsec1", ProgramCrypto)]
)
def test_the_client_checks_with_the_chosen_backend(
    saml_sp_keys: Path, backend: str, crypto: type
) -> None:
    sp = ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys, backend)  # type: ignore[arg-type]
    assert sp.crypto_backend == backend
    assert isinstance(sp.key_source, SPKeyRing)
    assert sp.keys == ServiceProviderKeys.load_or_create(saml_sp_keys)
    client = sp.client(sp.config(sp.settings(acs_url=ACS_URL)))
    assert isinstance(client.sec, SecurityContext)
    assert type(client.sec.crypto) is crypto
    assert client.config.entityid == SP_ENTITY_ID


def test_the_xmlsec1_backend_without_the_program_is_a_config_error(tmp_path: Path) -> None:
    keys = ServiceProviderKeys(active=KeyPair.in_directory(tmp_path, "a"))
    sp = ServiceProvider(SP_ENTITY_ID, keys, "", "xmlsec1")
    with pytest.raises(ConfigError, match="the xmlsec1 program is not installed"):
        sp.settings(acs_url=ACS_URL)


def test_the_default_backend_is_in_process(saml_sp_keys: Path) -> None:
    sp = ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys)
    assert sp.crypto_backend == "xmlsec"
    client = sp.client(sp.config(sp.settings(acs_url=ACS_URL)))
    assert type(client.sec.crypto) is InProcessCrypto


def test_without_the_xmlsec1_program_its_backend_is_refused_at_start_up(
    saml_sp_keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xmlsec1 = shutil.which("xmlsec1")
    assert xmlsec1
    monkeypatch.setenv("PATH", str(tmp_path))  # a host without the program
    with pytest.raises(ConfigError, match="the xmlsec1 program is not installed"):
        ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys, "xmlsec1")
    assert ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys, "xmlsec").crypto_backend == "xmlsec"
    keys = ServiceProviderKeys.load_or_create(saml_sp_keys)
    # the default backend signs the SP metadata without the program
    default = sp_metadata_xml(SP_ENTITY_ID, ACS_URL, None, keys)
    assert ElementTree.fromstring(default).get("entityID") == SP_ENTITY_ID  # noqa: S314
    with pytest.raises(ConfigError, match="the xmlsec1 program is not installed"):
        sp_metadata_xml(SP_ENTITY_ID, ACS_URL, None, keys, crypto_backend="xmlsec1")
    # the program named is the one that runs
    named = sp_metadata_xml(
        SP_ENTITY_ID, ACS_URL, None, keys, crypto_backend="xmlsec1", xmlsec_binary=xmlsec1
    )
    assert ElementTree.fromstring(named).get("entityID") == SP_ENTITY_ID  # noqa: S314


def test_a_fixed_key_set_is_its_own_source(saml_sp_keys: Path) -> None:
    keys = ServiceProviderKeys.load_or_create(saml_sp_keys)
    assert ServiceProvider(SP_ENTITY_ID, keys).keys is keys


# -- the SP metadata ---------------------------------------------------------------------------


def metadata(saml_sp_keys: Path, **options: object) -> ElementTree.Element:
    xml = sp_metadata_xml(
        SP_ENTITY_ID,
        ACS_URL,
        SLO_URL,
        ServiceProviderKeys.load_or_create(saml_sp_keys),
        **options,  # type: ignore[arg-type]
    )
    assert isinstance(xml, bytes)
    return ElementTree.fromstring(xml)  # noqa: S314 - the broker's own document


def test_the_metadata_describes_the_organisation_and_its_contacts(saml_sp_keys: Path) -> None:
    root = metadata(
        saml_sp_keys,
        organisation=Organisation(
            {"fi": "Sairaala", "en": "Hospital"},
            {"fi": "https://sairaala.test", "en": "https://hospital.test"},
            display_names={"fi": "Sairaala Oy"},
        ),
        contacts=[
            Contact("technical", "tuki@sairaala.test", "Tuki", "Tiimi", "Sairaala Oy"),
            Contact("support", "apu@sairaala.test"),
        ],
        valid_hours=6,
    )
    (organisation,) = root.iter(f"{MD}Organization")
    texts = {
        tag: [(e.get(LANG), e.text) for e in organisation.iter(f"{MD}{tag}")]
        for tag in ("OrganizationName", "OrganizationDisplayName", "OrganizationURL")
    }
    assert texts == {
        "OrganizationName": [("fi", "Sairaala"), ("en", "Hospital")],
        "OrganizationDisplayName": [("fi", "Sairaala Oy")],
        "OrganizationURL": [("fi", "https://sairaala.test"), ("en", "https://hospital.test")],
    }
    contacts = [
        (c.get("contactType"), [(child.tag.removeprefix(MD), child.text) for child in c])
        for c in root.iter(f"{MD}ContactPerson")
    ]
    assert contacts == [
        (
            "technical",
            [
                ("Company", "Sairaala Oy"),
                ("GivenName", "Tuki"),
                ("SurName", "Tiimi"),
                ("EmailAddress", "tuki@sairaala.test"),
            ],
        ),
        ("support", [("EmailAddress", "apu@sairaala.test")]),
    ]
    valid_until = time.mktime(time.strptime(root.get("validUntil", ""), "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(valid_until - time.timezone - (time.time() + 6 * 3600)) < 120


def test_the_organisations_names_are_its_display_names_unless_given(saml_sp_keys: Path) -> None:
    root = metadata(
        saml_sp_keys, organisation=Organisation({"sv": "Sjukhus"}, {"sv": "https://s.test"})
    )
    (organisation,) = root.iter(f"{MD}Organization")
    assert [(e.get(LANG), e.text) for e in organisation.iter(f"{MD}OrganizationDisplayName")] == [
        ("sv", "Sjukhus")
    ]
    assert root.get("validUntil") is None  # no valid_hours: valid until replaced
    assert not list(root.iter(f"{MD}ContactPerson"))


def test_the_metadata_carries_the_entity_attributes(saml_sp_keys: Path) -> None:
    root = metadata(
        saml_sp_keys,
        entity_attributes=[
            EntityAttribute(FINNISH_AUTH_METHOD, ["urn:a", "urn:b"], "authMethod"),
            EntityAttribute("urn:option", ("yes",)),
        ],
    )
    found = [
        (a.get("Name"), a.get("NameFormat"), a.get("FriendlyName"), [v.text for v in a])
        for a in root.iter(f"{SAML}Attribute")
    ]
    assert found == [
        (FINNISH_AUTH_METHOD, URI, "authMethod", ["urn:a", "urn:b"]),
        ("urn:option", URI, None, ["yes"]),
    ]


def test_the_metadata_offers_only_the_algorithms_the_broker_accepts(saml_sp_keys: Path) -> None:
    root = metadata(saml_sp_keys, service_name="Palvelu", requested_attributes=[HETU])
    extensions = root.find(f"{MD}Extensions")
    assert extensions is not None
    assert [(e.tag, e.get("Algorithm")) for e in extensions] == [
        (f"{ALG}DigestMethod", SHA256),
        (f"{ALG}SigningMethod", RSA_SHA256),
    ]
    names = [(e.get(LANG), e.text) for e in root.iter(f"{MD}ServiceName")]
    assert names == [("en", "Palvelu")]
    # and the metadata itself is signed with them
    (signed_info,) = root.iter(f"{DS}SignedInfo")
    algorithms = [e.get("Algorithm") for e in signed_info.iter() if e.get("Algorithm")]
    assert algorithms == [EXC_C14N, RSA_SHA256, ENVELOPED, EXC_C14N, SHA256]


def test_the_service_name_is_sote_broker_unless_told(saml_sp_keys: Path) -> None:
    root = metadata(saml_sp_keys, requested_attributes=[HETU])
    names = [e.text for e in root.iter(f"{MD}ServiceName")]
    assert names == ["sote-broker"]


# -- the settings ------------------------------------------------------------------------------


def test_the_organisations_name_in_each_language_unless_given() -> None:
    settings = SAMLServiceProviderSettings(organisation_name="Sairaala")
    assert settings.organisation() == Localised(fi="Sairaala", sv="Sairaala", en="Sairaala")
    names = Localised(fi="Sairaala", sv="Sjukhus", en="Hospital")
    settings = SAMLServiceProviderSettings(organisation_name="Sairaala", organisation_names=names)
    assert settings.organisation() == names
