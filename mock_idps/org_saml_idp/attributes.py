"""The attribute statement an organisation sends, by its `attributes:` in the users file.

`urn:oid:` names go out as Shibboleth and Suomi.fi send them: NameFormat uri, with the friendly
name. Other names are AD FS claim types, which AD FS sends with NameFormat unspecified and no
friendly name. A user without a value for a field does not get its attribute.
"""

from __future__ import annotations

from saml2 import saml

from mock_idps.org_saml_idp.config import Organisation, User
from mock_idps.saml_common.responses import string_attribute

NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAME_FORMAT_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
FRIENDLY_NAMES = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "eduPersonPrincipalName",
    "urn:oid:0.9.2342.19200300.100.1.3": "mail",
    "urn:oid:2.5.4.42": "givenName",
    "urn:oid:2.5.4.4": "sn",
    "urn:oid:2.5.4.3": "cn",
    "urn:oid:2.16.840.1.113730.3.1.241": "displayName",
    "urn:oid:2.5.4.12": "title",
    "urn:oid:2.5.4.11": "ou",
    "urn:oid:2.16.840.1.113730.3.1.3": "employeeNumber",
    "urn:oid:2.5.4.20": "telephoneNumber",
    "urn:oid:1.2.246.21": "nationalIdentificationNumber",
}


def attributes(org: Organisation, user: User) -> list[saml.Attribute]:
    found = []
    for name, field in org.attributes:
        value = user.value(field)
        if value is None:
            continue
        if name.startswith("urn:oid:"):
            found.append(string_attribute(name, [value], NAME_FORMAT_URI, FRIENDLY_NAMES.get(name)))
        else:
            found.append(string_attribute(name, [value], NAME_FORMAT_UNSPECIFIED))
    return found
