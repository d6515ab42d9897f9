"""Single logout at a mock IdP, HTTP-Redirect both ways, signed RSA-SHA256 (pysaml2's binding
code). The mock's routes decide what a session is and how it ends; this module only reads and
writes the messages.

    SP's LogoutRequest ─ signed by the SP's metadata key, Destination /slo ─ names this browser's
        session (NameID and SessionIndex) ─ session ends ─▶ LogoutResponse to the SP's SLO
    the mock's own LogoutRequest (tests: /_idp-logout) ─▶ the SP's SLO; its LogoutResponse comes
        back to /slo and is checked against the SP's metadata key

A LogoutResponse is signed over the query string; pysaml2's parser checks no such signature, so
`check_logout_response` does, with pysaml2's own helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_REDIRECT, samlp
from saml2.s_utils import (
    decode_base64_and_inflate,
    error_status_factory,
    success_status_factory,
)
from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
from saml2.samlp import STATUS_REQUEST_DENIED, STATUS_UNKNOWN_PRINCIPAL
from saml2.server import Server
from saml2.sigver import verify_redirect_signature

from mock_idps.saml_common.entity import SIGN_ALG

__all__ = [
    "LogoutError",
    "SPLogout",
    "check_logout_response",
    "idp_logout_request",
    "logout_response",
    "read_logout_request",
]


class LogoutError(ValueError):
    """A logout message that is malformed, unsigned, wrongly signed, or from an unknown SP."""


@dataclass(frozen=True)
class SPLogout:
    """A verified LogoutRequest from an SP: what it names, and the request to answer."""

    message: Any
    sp_entity_id: str
    name_id: str | None
    session_indexes: tuple[str, ...]
    relay_state: str | None

    def names(self, name_id: str, session_index: str) -> bool:
        """Whether it is this session (the NameID the SP was given, and the session's index)
        that the SP asks to end."""
        return self.name_id == name_id and (
            not self.session_indexes or session_index in self.session_indexes
        )


def read_logout_request(server: Server, params: dict[str, str]) -> SPLogout:
    """Parse and check an SP's LogoutRequest (blocking: pysaml2 verifies the signature)."""
    try:
        parsed = server.parse_logout_request(
            params.get("SAMLRequest", ""),
            BINDING_HTTP_REDIRECT,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )
    except Exception as exc:  # pysaml2 raises a dozen unrelated types here
        raise LogoutError(f"LogoutRequest refused: {type(exc).__name__}") from exc
    message = parsed.message if parsed is not None else None
    issuer = message.issuer.text.strip() if message is not None and message.issuer else None
    if message is None or not issuer:
        raise LogoutError("LogoutRequest refused: no message or no Issuer")
    return SPLogout(
        message=message,
        sp_entity_id=issuer,
        name_id=message.name_id.text if message.name_id is not None else None,
        session_indexes=tuple(i.text for i in message.session_index if i.text),
        relay_state=params.get("RelayState"),
    )


def logout_response(server: Server, logout: SPLogout, ended: bool, failure: bool) -> str:
    """The URL of the signed LogoutResponse at the SP's SLO endpoint."""
    if failure:
        status = error_status_factory((STATUS_REQUEST_DENIED, "MOCK logout failure (test fault)"))
    elif ended:
        status = success_status_factory()
    else:
        status = error_status_factory((STATUS_UNKNOWN_PRINCIPAL, "not this browser's session"))
    response = server.create_logout_response(
        logout.message, [BINDING_HTTP_REDIRECT], status=status, sign=False
    )
    args = server.response_args(logout.message, [BINDING_HTTP_REDIRECT])
    return _redirect(server, str(response), args["destination"], logout.relay_state, True)


def idp_logout_request(
    server: Server,
    sp_entity_id: str,
    name_id: str,
    session_index: str,
    name_id_format: str = NAMEID_FORMAT_TRANSIENT,
) -> str:
    """The URL of the mock's own signed LogoutRequest at the SP, for the session with this index
    in which the SP was given `name_id`."""
    services = server.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")
    if not services:
        raise LogoutError(f"SP {sp_entity_id} has no HTTP-Redirect SingleLogoutService")
    destination = services[0]["location"]
    subject = NameID(
        text=name_id,
        format=name_id_format,
        name_qualifier=server.config.entityid,
        sp_name_qualifier=sp_entity_id,
    )
    _, request = server.create_logout_request(
        destination,
        sp_entity_id,
        name_id=subject,
        session_indexes=[session_index],
        sign=False,
    )
    return _redirect(server, str(request), destination, "mock-idp-initiated", False)


def check_logout_response(server: Server, params: dict[str, str]) -> str:
    """The status of an SP's LogoutResponse, once its query-string signature is checked."""
    try:
        xml = decode_base64_and_inflate(params.get("SAMLResponse", ""))
        response = samlp.logout_response_from_string(xml)
    except Exception as exc:  # base64, zlib, defusedxml and pysaml2 errors alike
        raise LogoutError(f"LogoutResponse refused: {type(exc).__name__}") from exc
    if response is None or response.issuer is None or response.status is None:
        raise LogoutError("LogoutResponse refused: not a LogoutResponse")
    if params.get("SigAlg") != SIGN_ALG or "Signature" not in params:
        raise LogoutError("LogoutResponse is not signed with RSA-SHA256")
    names = ("SAMLResponse", "RelayState", "SigAlg", "Signature")
    signed = {name: params[name] for name in names if name in params}
    certs = server.metadata.certs(response.issuer.text.strip(), "spsso", "signing")
    if not any(verify_redirect_signature(signed, server.sec.sec_backend, c) for _, c in certs):
        raise LogoutError("LogoutResponse signature is not by the SP's metadata key")
    return str(response.status.status_code.value)


def _redirect(
    server: Server, xml: str, destination: str, relay_state: str | None, response: bool
) -> str:
    info = server.apply_binding(
        BINDING_HTTP_REDIRECT,
        xml,
        destination,
        relay_state or "",
        response=response,
        sign=True,
        sigalg=SIGN_ALG,
    )
    return str(dict(info["headers"])["Location"])
