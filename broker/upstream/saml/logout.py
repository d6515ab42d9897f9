"""SAML single logout (SAML 2.0 Core §3.7, Profiles §4.4) with one IdP, over HTTP-Redirect.

    request_url()    UpstreamSession (NameID with its format and qualifiers, SessionIndex)
                     ─ LogoutRequest, signed ─▶ the IdP's SingleLogoutService
    check_response() LogoutResponse ─ signature by the IdP's metadata key ─ Issuer ─ Destination
                     ─ InResponseTo = the LogoutRequest the broker sent ─▶ the status code
    read_request()   LogoutRequest from the IdP ─ signature ─ Issuer ─ Destination ─ IssueInstant
                     and NotOnOrAfter ─▶ IdPLogoutRequest (NameID, SessionIndexes)
    response_url()   LogoutResponse, signed ─▶ back to the IdP

Signatures are the binding's, over the query string (`redirect_binding`); the XML is read with
pysaml2's element classes (defusedxml underneath). Nothing here logs a NameID or SessionIndex.
Blocking (RSA, XML parsing): call it in a thread.
"""

from __future__ import annotations

import calendar
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from broker.errors import UpstreamLogoutError
from broker.store.records import UpstreamSession
from broker.upstream.saml.idp_metadata import IdPClient
from broker.upstream.saml.pysaml2 import (
    BINDING_HTTP_REDIRECT,
    NAMEID_FORMAT_ENTITY,
    UnsupportedBinding,
    saml,
    samlp,
    str_to_time,
)
from broker.upstream.saml.redirect_binding import RedirectBindingError, RedirectMessage, encode

__all__ = ["IdPLogoutRequest", "SingleLogout", "new_message_id", "sender_of"]

USER_LOGOUT: Final = "urn:oasis:names:tc:SAML:2.0:logout:user"
MESSAGE_LIFETIME: Final = 300
"""How old an IdP's LogoutRequest may be (IssueInstant), besides the clock skew."""


@dataclass(frozen=True)
class IdPLogoutRequest:
    """A verified LogoutRequest from the IdP: whom to log out, and what to answer to."""

    request_id: str
    name_id: str = field(repr=False)
    session_indexes: tuple[str, ...] = field(repr=False)
    relay_state: str | None
    expires_at: float
    """Until when a replay of this request must be recognised."""


@dataclass(frozen=True)
class SingleLogout:
    """Single logout between the broker's SP and one IdP, whose metadata is `idp`."""

    idp_id: str
    idp: IdPClient
    sp_entity_id: str
    slo_url: str
    """The broker's own SingleLogoutService (HTTP-Redirect), as its SP metadata says."""
    key: rsa.RSAPrivateKey = field(repr=False)
    """The SP's key, which signs the broker's messages."""
    clock_skew: int = 60

    def endpoint(self) -> tuple[str, str] | None:
        """(Location, ResponseLocation) of the IdP's HTTP-Redirect SingleLogoutService, or None
        (pysaml2 raises when the metadata has none, or only with other bindings: the mock
        organisation IdPs publish none, and a portal's logout after their logins was a 500)."""
        try:
            services = self.idp.client.metadata.single_logout_service(
                self.idp.entity_id, BINDING_HTTP_REDIRECT, "idpsso"
            )
        except UnsupportedBinding:
            return None
        for service in services:
            if location := service.get("location"):
                return str(location), str(service.get("response_location") or location)
        return None

    # -- the broker logs out at the IdP -------------------------------------------------------
    def request_url(
        self,
        session: UpstreamSession,
        request_id: str,
        relay_state: str,
        now: float,
    ) -> str:
        location = self._endpoint()[0]
        name_id = saml.NameID(
            text=session.name_id,
            format=session.name_id_format,
            name_qualifier=session.name_qualifier,
            sp_name_qualifier=session.sp_name_qualifier,
        )
        indexes = [samlp.SessionIndex(text=session.session_index)] if session.session_index else []
        request = samlp.LogoutRequest(
            id=request_id,
            version="2.0",
            issue_instant=_instant(now),
            destination=location,
            reason=USER_LOGOUT,
            issuer=self._issuer(),
            name_id=name_id,
            session_index=indexes,
        )
        xml = request.to_string().decode()
        return encode(location, "SAMLRequest", xml, relay_state, self.key)

    def check_response(self, message: RedirectMessage, request_id: str) -> str:
        """The LogoutResponse's top-level status code, once it is shown to answer `request_id`
        and to come from the IdP; otherwise UpstreamLogoutError."""
        response = self._verified(message, "SAMLResponse", samlp.logout_response_from_string)
        if response.in_response_to != request_id:
            raise self._refused("InResponseTo is not the broker's LogoutRequest")
        code = response.status.status_code if response.status is not None else None
        if code is None or not code.value:
            raise self._refused("LogoutResponse without a status")
        return str(code.value)

    # -- the IdP logs the person out ----------------------------------------------------------
    def read_request(self, message: RedirectMessage, now: float) -> IdPLogoutRequest:
        request = self._verified(message, "SAMLRequest", samlp.logout_request_from_string)
        issued = self._epoch(request.issue_instant)
        if issued is None or abs(now - issued) > MESSAGE_LIFETIME + self.clock_skew:
            raise self._refused("LogoutRequest IssueInstant outside the accepted window")
        not_after = self._epoch(request.not_on_or_after)
        if not_after is not None and now > not_after + self.clock_skew:
            raise self._refused("LogoutRequest has expired (NotOnOrAfter)")
        name_id = _text(request.name_id)
        if not request.id or name_id is None:
            raise self._refused("LogoutRequest without an ID or a (clear) NameID")
        return IdPLogoutRequest(
            request_id=str(request.id),
            name_id=name_id,
            session_indexes=tuple(t for i in request.session_index if (t := _text(i))),
            relay_state=message.relay_state,
            expires_at=issued + MESSAGE_LIFETIME + 2 * self.clock_skew,
        )

    def response_url(self, request: IdPLogoutRequest, status: str, now: float) -> str:
        location = self._endpoint()[1]
        response = samlp.LogoutResponse(
            id=new_message_id(),
            version="2.0",
            issue_instant=_instant(now),
            destination=location,
            in_response_to=request.request_id,
            issuer=self._issuer(),
            status=samlp.Status(status_code=samlp.StatusCode(value=status)),
        )
        xml = response.to_string().decode()
        return encode(location, "SAMLResponse", xml, request.relay_state, self.key)

    # -- shared checks ------------------------------------------------------------------------
    def _verified(self, message: RedirectMessage, kind: str, parse: Any) -> Any:
        """Signature by the IdP's metadata key, then Version, Issuer and Destination."""
        if message.kind != kind:
            raise self._refused(f"{message.kind} where a {kind} was expected")
        metadata = self.idp.client.metadata
        certificates = [cert for _, cert in metadata.certs(self.idp.entity_id, "idpsso", "signing")]
        try:
            message.verify(certificates)
        except RedirectBindingError as exc:
            raise self._refused(str(exc)) from exc
        try:
            parsed = parse(message.xml)
        except Exception as exc:  # defusedxml and pysaml2 raise several kinds
            raise self._refused(f"unreadable {kind}: {type(exc).__name__}") from exc
        if parsed is None:
            raise self._refused(f"{kind} is not the expected message")
        if parsed.version != "2.0":
            raise self._refused("not SAML 2.0")
        if _text(parsed.issuer) != self.idp.entity_id:
            raise self._refused("Issuer is not the IdP")
        if parsed.destination != self.slo_url:
            raise self._refused("Destination is not the broker's SingleLogoutService")
        return parsed

    def _endpoint(self) -> tuple[str, str]:
        found = self.endpoint()
        if found is None:
            raise UpstreamLogoutError(f"{self.idp_id}: metadata has no HTTP-Redirect SLO service")
        return found

    def _issuer(self) -> saml.Issuer:
        return saml.Issuer(text=self.sp_entity_id, format=NAMEID_FORMAT_ENTITY)

    def _epoch(self, text: str | None) -> float | None:
        if not text:
            return None
        try:
            return float(calendar.timegm(str_to_time(text)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._refused("malformed SAML time") from exc

    def _refused(self, why: str) -> UpstreamLogoutError:
        return UpstreamLogoutError(f"{self.idp_id}: {why}")


def sender_of(message: RedirectMessage) -> str | None:
    """The Issuer a message claims, read before anything is trusted: it only chooses whose
    metadata key must have signed it."""
    parse = (
        samlp.logout_request_from_string
        if message.kind == "SAMLRequest"
        else samlp.logout_response_from_string
    )
    try:
        parsed = parse(message.xml)
    except Exception:  # unreadable: nobody's
        return None
    return _text(parsed.issuer) if parsed is not None else None


def new_message_id() -> str:
    """160 random bits as an NCName, like the AuthnRequest's."""
    return "_" + secrets.token_hex(20)


def _instant(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _text(element: Any) -> str | None:
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) and text.strip() else None
