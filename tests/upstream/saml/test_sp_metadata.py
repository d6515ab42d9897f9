"""The SP metadata's description of the service (`sp_metadata`), without a running broker: each
RequestedAttribute named and marked required or not, the ServiceName and the mdui DisplayName in
every language, and nothing of the kind when no names are configured. The whole document as
Suomi.fi reads it, served by the broker: tests/flows/test_suomifi_journey.py."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from broker.upstream.registry import RequestedAttribute
from broker.upstream.saml.sp import sp_metadata_xml
from broker.upstream.saml.sp_keys import ServiceProviderKeys
from broker.upstream.saml.sp_metadata import attribute_names

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
MDUI = "{urn:oasis:names:tc:SAML:metadata:ui}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HETU = "urn:oid:1.2.246.21"
GIVEN_NAME = "urn:oid:2.5.4.42"
MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
NAMES = {"fi": "Palvelu", "sv": "Tjänst", "en": "Service"}
REQUESTED = (
    RequestedAttribute(name=HETU, friendly_name="nationalIdentificationNumber", required=True),
    RequestedAttribute(name=GIVEN_NAME, friendly_name="givenName"),
    MAIL,
)


def sp_descriptor(saml_sp_keys: Path, **options: object) -> ElementTree.Element:
    xml = sp_metadata_xml(
        "https://broker.test/saml/metadata",
        "https://broker.test/upstream/saml/acs",
        None,
        ServiceProviderKeys.load_or_create(saml_sp_keys),
        REQUESTED,
        **options,  # type: ignore[arg-type]
    )
    root = ElementTree.fromstring(xml)  # noqa: S314 - the broker's own document
    (sso,) = root.iter(f"{MD}SPSSODescriptor")
    return sso


def by_language(elements: object) -> dict[str | None, str | None]:
    return {e.get(LANG): e.text for e in elements}  # type: ignore[attr-defined]


def test_requested_attributes_are_named_and_marked(saml_sp_keys: Path) -> None:
    sso = sp_descriptor(saml_sp_keys, service_names=NAMES)
    requested = {
        a.get("Name"): (a.get("FriendlyName"), a.get("isRequired"))
        for a in sso.iter(f"{MD}RequestedAttribute")
    }
    assert requested == {
        HETU: ("nationalIdentificationNumber", "true"),
        GIVEN_NAME: ("givenName", "false"),
        MAIL: (None, "false"),  # pysaml2's own: a name given only as text
    }
    (service,) = sso.iter(f"{MD}AttributeConsumingService")
    assert by_language(service.iter(f"{MD}ServiceName")) == NAMES
    (info,) = sso.iter(f"{MDUI}UIInfo")
    assert by_language(info.iter(f"{MDUI}DisplayName")) == NAMES


def test_without_service_names_nothing_is_added(saml_sp_keys: Path) -> None:
    sso = sp_descriptor(saml_sp_keys, service_name="sote-broker")
    assert not list(sso.iter(f"{MDUI}UIInfo"))
    (service,) = sso.iter(f"{MD}AttributeConsumingService")
    assert [(n.get(LANG), n.text) for n in service.iter(f"{MD}ServiceName")] == [
        ("en", "sote-broker")
    ]
    marked = {a.get("Name"): a.get("isRequired") for a in sso.iter(f"{MD}RequestedAttribute")}
    assert marked == {HETU: "true", GIVEN_NAME: "false", MAIL: "false"}


def test_attribute_names() -> None:
    assert attribute_names(REQUESTED) == [HETU, GIVEN_NAME, MAIL]
