"""The attribute statement: Suomi.fi's OID names, NameFormat `uri`, friendly names as they send.

A person with address protection (turvakielto) gets the flag and nothing address-like: the
municipality attributes are left out altogether.
"""

from __future__ import annotations

from saml2 import saml

from mock_idps.saml_common.responses import string_attribute
from mock_idps.suomifi_idp.persons import Person

NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NATIONAL_IDENTIFICATION_NUMBER = "urn:oid:1.2.246.21"
COMMON_NAME = "urn:oid:2.5.4.3"
GIVEN_NAME = "urn:oid:2.5.4.42"
SURNAME = "urn:oid:2.5.4.4"
DISPLAY_NAME = "urn:oid:2.16.840.1.113730.3.1.241"
MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
MUNICIPALITY_CODE = "urn:oid:1.2.246.517.2002.2.18"
MUNICIPALITY_FI = "urn:oid:1.2.246.517.2002.2.19"
MUNICIPALITY_SV = "urn:oid:1.2.246.517.2002.2.20"
TURVAKIELTO = "urn:oid:1.2.246.517.2002.2.27"

FRIENDLY_NAMES = {
    NATIONAL_IDENTIFICATION_NUMBER: "nationalIdentificationNumber",
    COMMON_NAME: "cn",
    GIVEN_NAME: "givenName",
    SURNAME: "sn",
    DISPLAY_NAME: "displayName",
    MAIL: "mail",
    MUNICIPALITY_CODE: "KotikuntaKuntanumero",
    MUNICIPALITY_FI: "KotikuntaKuntaS",
    MUNICIPALITY_SV: "KotikuntaKuntaR",
    TURVAKIELTO: "TurvakieltoTieto",
}


def person_attributes(person: Person) -> dict[str, str]:
    """The person's attribute values by OID name."""
    values = {
        NATIONAL_IDENTIFICATION_NUMBER: person.hetu,
        COMMON_NAME: person.common_name,
        GIVEN_NAME: person.given_name,
        SURNAME: person.family_name,
        DISPLAY_NAME: person.display_name,
        TURVAKIELTO: "true" if person.turvakielto else "false",
    }
    if person.email:
        values[MAIL] = person.email
    if person.municipality and not person.turvakielto:
        values[MUNICIPALITY_CODE] = person.municipality.code
        values[MUNICIPALITY_FI] = person.municipality.fi
        values[MUNICIPALITY_SV] = person.municipality.sv
    return values


def attributes(person: Person) -> list[saml.Attribute]:
    return [
        string_attribute(name, [value], NAME_FORMAT_URI, FRIENDLY_NAMES[name])
        for name, value in person_attributes(person).items()
    ]
