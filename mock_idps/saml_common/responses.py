"""Building a SAML Response as a real IdP does, and spoiling it on purpose for a test fault.

The Response is assembled from pysaml2's element classes rather than with
`Server.create_authn_response`, because the mock must control what that function decides for
itself: times come from the injected clock, and a fault may change the Audience, Destination,
Issuer, validity window or signing key. Signing and encryption are pysaml2's (xmlsec1), in the
order pysaml2 uses: the Assertion is signed, then encrypted (self-contained, so any SP can parse
the decrypted element alone), then the Response is signed. Which of these an IdP does is its
`Protection`: Suomi.fi signs both and encrypts; organisation IdPs vary.

Encryption: AES-256-GCM for the data (xmlenc 1.1, what Suomi.fi's `CipherName` AES-GCM means) and
RSA-OAEP (MGF1, SHA-1) for the session key, with the SP's first encryption certificate from its
metadata. xmlsec1 1.2.37 (openssl) does both; pysaml2's default would be 3DES.
"""

from __future__ import annotations

import datetime
import secrets
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from saml2 import class_name, saml, samlp
from saml2.saml import NAMEID_FORMAT_ENTITY
from saml2.samlp import STATUS_AUTHN_FAILED, STATUS_RESPONDER, STATUS_SUCCESS
from saml2.server import Server
from saml2.sigver import (
    RSA_OAEP_MGF1P,
    pre_encrypt_assertion,
    pre_encryption_part,
    pre_signature_part,
)

from mock_idps.saml_common.authn_requests import PendingRequest
from mock_idps.saml_common.entity import DIGEST_ALG, SIGN_ALG
from mock_idps.saml_common.faults import Fault
from mock_idps.saml_common.keys import KeyPair

AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
VALIDITY_SECONDS = 300
_FAULT_SHIFT = 3600
_ELSEWHERE = "https://elsewhere.invalid"


class EncryptionCertificateError(ValueError):
    """The SP's metadata has no encryption certificate, and encryption is on."""


@dataclass(frozen=True)
class Signing:
    """The security context of the Server, our key pair, the impostor for the fault, and the
    pair a key rollover retired (None: the impostor stands in)."""

    server: Server
    key: KeyPair
    impostor: KeyPair
    retired: KeyPair | None = None


@dataclass(frozen=True)
class Protection:
    """What an IdP signs, and whether it encrypts the Assertion to the SP."""

    sign_response: bool = True
    sign_assertion: bool = True
    encrypt: bool = False


@dataclass(frozen=True)
class Statement:
    """What the Assertion says: the NameID, how and when the person authenticated (class ref,
    authenticating authorities, instant, session index) and their attributes."""

    name_id_format: str
    name_id: str
    class_ref: str
    auth_time: int
    session_index: str
    attributes: Sequence[saml.Attribute] = ()
    authorities: tuple[str, ...] = ()


def string_attribute(
    name: str,
    values: Sequence[str],
    name_format: str | None = None,
    friendly_name: str | None = None,
) -> saml.Attribute:
    """An Attribute with xs:string values, as Suomi.fi and most IdPs send them."""
    return saml.Attribute(
        name=name,
        name_format=name_format,
        friendly_name=friendly_name,
        attribute_value=[_string_value(value) for value in values],
    )


def _string_value(text: str) -> saml.AttributeValue:
    value = saml.AttributeValue()
    value.set_text(text)  # typed xs:string
    return value


def login_response(
    signing: Signing,
    issuer: str,
    pending: PendingRequest,
    statement: Statement,
    now: float,
    protection: Protection,
    fault: Fault | None = None,
) -> str:
    """The Response to a login: signed (and encrypted) as `protection` says, spoiled by `fault`;
    the `authn_failed` fault makes it an AuthnFailed status instead. Blocking (xmlsec1)."""
    if fault is Fault.AUTHN_FAILED:
        return error_response(signing, issuer, pending, now, STATUS_AUTHN_FAILED, "test fault")
    assertion = _assertion(issuer, pending, statement, now, fault)
    response = _response(
        issuer, pending, now, fault, samlp.Status(status_code=_code(STATUS_SUCCESS))
    )
    response.assertion = assertion
    encrypt = protection.encrypt and fault is not Fault.UNENCRYPTED
    cert = _encryption_cert(signing.server, pending.sp_entity_id) if encrypt else None
    return _sign_and_encrypt(signing, response, assertion, protection, fault, cert)


def error_response(
    signing: Signing,
    issuer: str,
    pending: PendingRequest,
    now: float,
    status: str,
    message: str,
    top_status: str = STATUS_RESPONDER,
) -> str:
    """A signed Response with `top_status` / `status` (e.g. NoAuthnContext) and no Assertion."""
    status_element = samlp.Status(
        status_code=_code(top_status, _code(status)),
        status_message=samlp.StatusMessage(text=message),
    )
    response = _response(issuer, pending, now, None, status_element)
    return _sign_and_encrypt(signing, response, None, Protection(), None, None)


def _code(value: str, inner: samlp.StatusCode | None = None) -> samlp.StatusCode:
    return samlp.StatusCode(value=value, status_code=inner)


def _instant(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _id() -> str:
    return "_" + secrets.token_hex(20)


def _issuer(issuer: str, fault: Fault | None) -> saml.Issuer:
    text = f"{_ELSEWHERE}/idp" if fault is Fault.WRONG_ISSUER else issuer
    return saml.Issuer(text=text, format=NAMEID_FORMAT_ENTITY)


def _times(now: float, fault: Fault | None) -> tuple[float, float]:
    """(issue instant, NotOnOrAfter), moved by the time faults."""
    if fault is Fault.EXPIRED:
        now -= _FAULT_SHIFT
    elif fault is Fault.NOT_YET_VALID:
        now += _FAULT_SHIFT
    return now, now + VALIDITY_SECONDS


def _in_response_to(pending: PendingRequest, fault: Fault | None) -> str:
    return _id() if fault is Fault.WRONG_IN_RESPONSE_TO else pending.request_id


def _destination(pending: PendingRequest, fault: Fault | None) -> str:
    return f"{_ELSEWHERE}/acs" if fault is Fault.WRONG_DESTINATION else pending.acs_url


def _response(
    issuer: str, pending: PendingRequest, now: float, fault: Fault | None, status: samlp.Status
) -> samlp.Response:
    issued, _ = _times(now, fault)
    return samlp.Response(
        id=_id(),
        version="2.0",
        issue_instant=_instant(issued),
        issuer=_issuer(issuer, fault),
        in_response_to=_in_response_to(pending, fault),
        destination=_destination(pending, fault),
        status=status,
    )


def _assertion(
    issuer: str, pending: PendingRequest, statement: Statement, now: float, fault: Fault | None
) -> saml.Assertion:
    issued, not_on_or_after = _times(now, fault)
    attributes = list(statement.attributes)
    return saml.Assertion(
        id=_id(),
        version="2.0",
        issue_instant=_instant(issued),
        issuer=_issuer(issuer, fault),
        subject=_subject(issuer, pending, statement, fault, not_on_or_after),
        conditions=_conditions(pending, fault, issued, not_on_or_after),
        authn_statement=[_authn_statement(statement)],
        attribute_statement=[saml.AttributeStatement(attribute=attributes)] if attributes else [],
    )


def _subject(
    issuer: str,
    pending: PendingRequest,
    statement: Statement,
    fault: Fault | None,
    not_on_or_after: float,
) -> saml.Subject:
    confirmation = saml.SubjectConfirmationData(
        in_response_to=_in_response_to(pending, fault),
        recipient=_destination(pending, fault),
        not_on_or_after=_instant(not_on_or_after),
    )
    return saml.Subject(
        name_id=saml.NameID(
            format=statement.name_id_format,
            name_qualifier=issuer,
            sp_name_qualifier=pending.sp_entity_id,
            text=statement.name_id,
        ),
        subject_confirmation=[
            saml.SubjectConfirmation(method=saml.SCM_BEARER, subject_confirmation_data=confirmation)
        ],
    )


def _conditions(
    pending: PendingRequest, fault: Fault | None, issued: float, not_on_or_after: float
) -> saml.Conditions:
    audience = f"{_ELSEWHERE}/sp" if fault is Fault.WRONG_AUDIENCE else pending.sp_entity_id
    return saml.Conditions(
        not_before=_instant(issued),
        not_on_or_after=_instant(not_on_or_after),
        audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=audience)])],
    )


def _authn_statement(statement: Statement) -> saml.AuthnStatement:
    context = saml.AuthnContext(
        authn_context_class_ref=saml.AuthnContextClassRef(text=statement.class_ref),
        authenticating_authority=[
            saml.AuthenticatingAuthority(text=authority) for authority in statement.authorities
        ],
    )
    return saml.AuthnStatement(
        authn_instant=_instant(statement.auth_time),
        session_index=statement.session_index,
        authn_context=context,
    )


def _encryption_cert(server: Server, sp_entity_id: str) -> str:
    certs = server.metadata.certs(sp_entity_id, "spsso", "encryption")
    if not certs:
        raise EncryptionCertificateError(f"SP {sp_entity_id} has no encryption certificate")
    return str(certs[0][1]).strip()


def _sign_and_encrypt(
    signing: Signing,
    response: samlp.Response,
    assertion: saml.Assertion | None,
    protection: Protection,
    fault: Fault | None,
    encryption_cert: str | None,
) -> str:
    sign_response = protection.sign_response and fault is not Fault.UNSIGNED
    sign_assertion = (
        protection.sign_assertion and assertion is not None and fault is not Fault.UNSIGNED
    )
    key = _signing_key(signing, fault)
    if sign_response:
        response.signature = _signature_template(response.id, key, 1)
    if sign_assertion and assertion is not None:
        assertion.signature = _signature_template(assertion.id, key, 2)
    xml: Any = response
    if encryption_cert is not None and assertion is not None:
        tag = assertion._to_element_tree().tag
        xml = pre_encrypt_assertion(response)
        xml = xml.get_xml_string_with_self_contained_assertion_within_encrypted_assertion(tag)
    xml = str(xml) if not isinstance(xml, str) else xml
    sec = signing.server.sec
    if sign_assertion and assertion is not None:
        xml = sec.sign_statement(
            xml, class_name(assertion), key_file=str(key.key_file), node_id=assertion.id
        )
    if encryption_cert is not None and assertion is not None:
        xml = _encrypt(sec, xml, encryption_cert)
    if sign_response:
        xml = sec.sign_statement(
            xml, class_name(response), key_file=str(key.key_file), node_id=response.id
        )
    return str(xml)


def _signing_key(signing: Signing, fault: Fault | None) -> KeyPair:
    if fault is Fault.SIGNED_BY_OTHER_KEY:
        return signing.impostor
    if fault is Fault.SIGNED_BY_RETIRED_KEY:
        return signing.retired or signing.impostor
    return signing.key


def _signature_template(element_id: str, key: KeyPair, number: int) -> Any:
    return pre_signature_part(
        element_id, key.cert_base64(), number, sign_alg=SIGN_ALG, digest_alg=DIGEST_ALG
    )


def _encrypt(sec: Any, xml: str, cert_base64: str) -> str:
    template = pre_encryption_part(
        msg_enc=AES256_GCM, key_enc=RSA_OAEP_MGF1P, encrypt_cert="".join(cert_base64.split())
    )
    body = "\n".join(textwrap.wrap("".join(cert_base64.split()), 64))
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as cert_file:
        cert_file.write(pem)
        cert_file.flush()
        return str(sec.encrypt_assertion(xml, cert_file.name, template, key_type="aes-256"))
