"""The Response as Suomi.fi sends it: a transient NameID (the same for one mock session and SP),
the LoA class and the method as AuthenticatingAuthority, Suomi.fi's attributes, Response and
Assertion signed, the Assertion encrypted. Building, signing, encrypting and the faults are
`mock_idps.saml_common.responses`.
"""

from __future__ import annotations

from dataclasses import dataclass

from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.samlp import STATUS_NO_AUTHN_CONTEXT

from mock_idps.saml_common import responses
from mock_idps.saml_common.authn_requests import PendingRequest
from mock_idps.saml_common.faults import Fault
from mock_idps.saml_common.responses import EncryptionCertificateError, Protection, Signing
from mock_idps.suomifi_idp.attributes import attributes
from mock_idps.suomifi_idp.methods import Method
from mock_idps.suomifi_idp.persons import Person

__all__ = ["EncryptionCertificateError", "Login", "Signing", "error_response", "success_response"]


@dataclass(frozen=True)
class Login:
    """Who logged in, how and when: what the Assertion states."""

    person: Person
    method: Method
    auth_time: int
    session_index: str
    name_id: str  # transient: the same for one session and SP (so the IdP can log it out)


def success_response(
    signing: Signing,
    issuer: str,
    pending: PendingRequest,
    login: Login,
    now: float,
    *,
    encrypt: bool,
    fault: Fault | None = None,
) -> str:
    """The signed (and encrypted) Response XML; blocking (xmlsec1)."""
    info = login.method.info
    statement = responses.Statement(
        name_id_format=NAMEID_FORMAT_TRANSIENT,
        name_id=login.name_id,
        class_ref=info.loa,
        auth_time=login.auth_time,
        session_index=login.session_index,
        attributes=attributes(login.person),
        authorities=(info.identifier,),
    )
    protection = Protection(sign_response=True, sign_assertion=True, encrypt=encrypt)
    return responses.login_response(signing, issuer, pending, statement, now, protection, fault)


def error_response(
    signing: Signing,
    issuer: str,
    pending: PendingRequest,
    now: float,
    message: str,
    second_level: str = STATUS_NO_AUTHN_CONTEXT,
) -> str:
    """A signed Response with status Responder / `second_level` (NoAuthnContext, NoPassive) and
    no Assertion."""
    return responses.error_response(signing, issuer, pending, now, second_level, message)
