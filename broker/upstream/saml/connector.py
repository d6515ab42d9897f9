"""The broker as a SAML 2.0 service provider towards one IdP (Suomi.fi e-Identification, or an
organisation's SAML IdP), built on pysaml2's `Saml2Client` and xmlsec1.

    start()  ─ IdP metadata (cached) ─ AuthnRequest: signed RSA-SHA256 over HTTP-Redirect,
               ForceAuthn, IsPassive, RequestedAuthnContext (exact), NameIDPolicy transient
               ─▶ redirect URL
    finish() ─ SAMLResponse (HTTP-POST) ─ envelope: one assertion, encrypted ─ pysaml2 in a thread:
               signature by the metadata's key, decryption, Destination, InResponseTo, audience,
               time window, status ─ Issuer, Recipient ─ replay ─ prompt/max_age/acr ─▶ RawIdentity
               (with the NameID and SessionIndex that single logout needs; read into plain data
               by `assertion`)

RequestedAuthnContext uses Comparison `exact` with every class the portal's `acr_values` name (in
the IdP's words, by the claim mapping's `acr_values`): the IdP then answers with one of them, which
is also what `finish` demands. A portal that accepts "loa2 or better" asks for both loa2 and loa3.

Every pysaml2 exception becomes an UpstreamResponseError naming only the exception class, except
SAML error statuses: NoAuthnContext is an UpstreamRequirementError; NoPassive (the answer to
IsPassive, sent for prompt=none) is an UpstreamLoginRequiredError; AuthnFailed, RequestDenied and
other Responder statuses are UpstreamDeniedError. Details go to the log through the error tree;
nothing here logs the response, an assertion, a NameID or an attribute value.

pysaml2 checks its time windows against the system clock (`accepted_time_diff` = clock_skew); the
injected clock drives metadata refresh and the portal's requirements (max_age, ForceAuthn).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from broker.claims.identity import RawIdentity
from broker.clock import Clock
from broker.errors import (
    UpstreamDeniedError,
    UpstreamError,
    UpstreamLoginRequiredError,
    UpstreamRequirementError,
    UpstreamResponseError,
)
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.oidc_checks import requirement_problem
from broker.upstream.registry import IdP
from broker.upstream.saml.assertion import VerifiedAssertion, read_assertion, text_of
from broker.upstream.saml.decryption import EncryptionPolicyError, received_response
from broker.upstream.saml.idp_metadata import IdPClient, MetadataCache
from broker.upstream.saml.pysaml2 import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NAMEID_FORMAT_PERSISTENT,
    NAMEID_FORMAT_TRANSIENT,
    NAMEID_FORMAT_UNSPECIFIED,
    SCM_BEARER,
    AuthnContextClassRef,
    StatusAuthnFailed,
    StatusError,
    StatusNoAuthnContext,
    StatusNoPassive,
    StatusRequestDenied,
    samlp,
)
from broker.upstream.saml.sp import DIGEST_ALG, SIGN_ALG, ServiceProvider
from broker.upstream.saml.xml_prolog import declares_dtd
from broker.upstream.saved_login import (
    UpstreamRedirect,
    as_json,
    check_owner,
    reading_saved,
    requested_fields,
)

__all__ = ["RememberAssertion", "SAMLConnector", "UpstreamRedirect"]

log = logging.getLogger(__name__)

RememberAssertion = Callable[[str, str, float], Awaitable[bool]]
"""(issuer, assertion id, expires_at) -> False if already seen: the store's `remember_jti`."""

MAX_RESPONSE_CHARS: Final = 512 * 1024
"""A SAMLResponse larger than this is refused before it is decoded."""
MAX_RELAY_STATE_BYTES: Final = 80  # SAML 2.0 Bindings §3.4.3 and §3.5.3
FORWARDED_PROMPTS: Final = ("login", "none")
_DENIED_STATUSES: Final = (StatusAuthnFailed, StatusRequestDenied)
_NAME_ID_FORMATS: Final = {
    "transient": NAMEID_FORMAT_TRANSIENT,
    "persistent": NAMEID_FORMAT_PERSISTENT,
    "unspecified": NAMEID_FORMAT_UNSPECIFIED,
}


@dataclass(frozen=True)
class _Saved:
    """What `start` saved in the login transaction, read back in `finish`."""

    idp: str
    request_id: str
    relay_state: str | None
    prompt: tuple[str, ...]
    max_age: int | None
    acr_values: tuple[str, ...]
    force_authn: bool
    started_at: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], idp_id: str) -> _Saved:
        with reading_saved(idp_id):
            if not isinstance(data["idp"], str) or not isinstance(data["request_id"], str):
                raise TypeError("saved text missing")
            relay = data["relay_state"]
            saved = cls(
                idp=data["idp"],
                request_id=data["request_id"],
                relay_state=None if relay is None else str(relay),
                force_authn=bool(data["force_authn"]),
                **requested_fields(data),
            )
        check_owner(saved.idp, idp_id)
        return saved


class SAMLConnector:
    """One SAML IdP. `remember_assertion` is the replay cache (the store's `remember_jti`);
    `require_encrypted_assertions=False` accepts an assertion in clear (an organisation IdP that
    cannot encrypt: its signature is still required; Suomi.fi always encrypts)."""

    def __init__(
        self,
        idp: IdP,
        sp: ServiceProvider,
        clock: Clock,
        *,
        acs_url: str,
        remember_assertion: RememberAssertion,
        clock_skew: int = 60,
        http: httpx.AsyncClient | None = None,
        require_encrypted_assertions: bool = True,
    ) -> None:
        self._idp = idp
        self._saml = idp.saml_settings
        self._acs_url = acs_url
        self._clock = clock
        self._skew = clock_skew
        self._remember = remember_assertion
        self._require_encryption = require_encrypted_assertions
        self._metadata = MetadataCache(
            idp, sp, clock, acs_url=acs_url, clock_skew=clock_skew, http=http
        )
        _quiet_pysaml2()

    async def refresh_metadata(self) -> None:
        """Load the IdP's metadata again if it is due (see `MetadataCache`); never raises."""
        await self._metadata.refresh_if_due()

    async def keep_metadata_fresh(self, every: float) -> None:
        """The background task: from start-up on, look every `every` seconds whether the
        metadata is due, so that a login does not pay for the fetch and an IdP's new key is
        known before it signs with it."""
        await self._metadata.keep_fresh(every)

    def metadata_usable(self) -> bool:
        """Whether valid metadata is held now (readiness and the metrics; no I/O)."""
        return self._metadata.usable

    async def idp_client(self) -> IdPClient:
        """The IdP's metadata (cached) and entity id, for single logout."""
        return await self._metadata.get()

    # -- the AuthnRequest ------------------------------------------------------------------
    async def start(self, login: UpstreamLogin) -> UpstreamRedirect:
        """`redirect_uri` is the ACS URL (the same as the constructor's `acs_url`); `relay_state`
        (at most 80 bytes) comes back with the Response. SAML has no login_hint or ui_locales."""
        if login.redirect_uri != self._acs_url:
            raise ValueError(f"{self._idp.id}: redirect_uri is not this connector's ACS URL")
        relay_state = login.relay_state
        if relay_state is not None and len(relay_state.encode()) > MAX_RELAY_STATE_BYTES:
            raise ValueError(f"RelayState longer than {MAX_RELAY_STATE_BYTES} bytes")
        idp = await self._metadata.get()
        prompts = tuple(p for p in login.prompt if p in FORWARDED_PROMPTS)
        saved = _Saved(
            idp=self._idp.id,
            request_id="_" + secrets.token_hex(20),  # 160 bits; an NCName
            relay_state=relay_state,
            prompt=prompts,
            max_age=login.max_age,
            acr_values=login.acr_values,
            # IsPassive with ForceAuthn must fail (SAML Core §3.4.1): max_age is then checked
            # against the AuthnInstant alone.
            force_authn=("login" in prompts or login.max_age is not None) and "none" not in prompts,
            started_at=self._clock.now(),
        )
        url = await asyncio.to_thread(self._authn_request_url, idp, saved)
        log.info("idp %s: AuthnRequest ready", self._idp.id)
        return UpstreamRedirect(url, as_json(saved))

    def _authn_request_url(self, idp: IdPClient, saved: _Saved) -> str:
        kwargs: dict[str, Any] = {}
        if classes := self._idp.claims.upstream_acr(saved.acr_values):
            refs = [AuthnContextClassRef(text=c) for c in classes]
            kwargs["requested_authn_context"] = samlp.RequestedAuthnContext(
                authn_context_class_ref=refs, comparison="exact"
            )
        if saved.force_authn:
            kwargs["force_authn"] = "true"
        if "none" in saved.prompt:
            kwargs["is_passive"] = "true"
        _, info = idp.client.prepare_for_authenticate(
            entityid=idp.entity_id,
            relay_state=saved.relay_state or "",
            binding=BINDING_HTTP_REDIRECT,
            sign=True,
            sigalg=SIGN_ALG,
            digest_alg=DIGEST_ALG,
            message_id=saved.request_id,
            assertion_consumer_service_url=self._acs_url,
            nameid_format=_NAME_ID_FORMATS[self._saml.name_id_format],
            **kwargs,
        )
        return str(dict(info["headers"])["Location"])

    # -- the Response ----------------------------------------------------------------------
    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity:
        """`params`: the ACS form (SAMLResponse, RelayState). `saved`: what `start` returned."""
        expected = _Saved.from_dict(saved, self._idp.id)
        saml_response = self._check_form(params, expected)
        idp = await self._metadata.get()
        verified = await asyncio.to_thread(self._verify, idp, saml_response, expected)
        if not await self._remember(verified.issuer, verified.assertion_id, verified.expires_at):
            raise UpstreamResponseError(f"{self._idp.id}: assertion replayed")
        acr = self._idp.claims.broker_acr(verified.class_ref, self._idp.default_acr)
        self._check_requirements(expected, verified.authn_instant, acr)
        subject = self._subject(verified)
        log.info("idp %s: login verified (acr %s)", self._idp.id, acr)
        return RawIdentity(
            idp_id=self._idp.id,
            issuer=verified.issuer,
            subject=subject,
            claims=verified.attributes,
            acr=acr,
            amr=verified.authorities,
            auth_time=verified.authn_instant,
            session=verified.session,
        )

    def _check_form(self, params: Mapping[str, str], expected: _Saved) -> str:
        idp = self._idp.id
        saml_response = params.get("SAMLResponse")
        if not saml_response:
            raise UpstreamResponseError(f"{idp}: ACS form without SAMLResponse")
        if len(saml_response) > MAX_RESPONSE_CHARS:
            raise UpstreamResponseError(f"{idp}: SAMLResponse too large")
        relay_state = params.get("RelayState")
        if expected.relay_state is not None and relay_state != expected.relay_state:
            raise UpstreamResponseError(f"{idp}: RelayState is not this login's")
        return saml_response

    def _verify(self, idp: IdPClient, saml_response: str, expected: _Saved) -> VerifiedAssertion:
        """Blocking (xmlsec1 subprocesses): run in a thread."""
        xml, envelope = self._envelope(saml_response)
        outstanding = {expected.request_id: self._acs_url}
        try:
            with received_response(xml):
                response = idp.client.parse_authn_request_response(
                    saml_response, BINDING_HTTP_POST, outstanding=outstanding
                )
        except StatusError as exc:
            raise self._status_error(exc, envelope) from exc
        except EncryptionPolicyError as exc:
            raise UpstreamResponseError(f"{self._idp.id}: {exc}") from exc
        except Exception as exc:  # pysaml2's exceptions share no base class
            raise UpstreamResponseError(f"{self._idp.id}: {type(exc).__name__}") from exc
        if response is None or response.assertion is None:  # e.g. a wrong Destination
            raise UpstreamResponseError(f"{self._idp.id}: response refused (no assertion)")
        if problem := self._response_problem(response, idp.entity_id, expected):
            raise UpstreamResponseError(f"{self._idp.id}: {problem}")
        return read_assertion(
            response.assertion, idp.entity_id, response.name_id, self._idp.id, self._skew
        )

    def _envelope(self, saml_response: str) -> tuple[bytes, Any]:
        """The Response as sent (its XML, and parsed), before pysaml2 decrypts it: no DTD,
        exactly one assertion, encrypted unless the connector allows otherwise."""
        idp = self._idp.id
        try:
            xml = base64.b64decode(saml_response)
        except (binascii.Error, ValueError) as exc:
            raise UpstreamResponseError(f"{idp}: SAMLResponse is not base64") from exc
        if declares_dtd(xml):
            raise UpstreamResponseError(f"{idp}: SAMLResponse with a DOCTYPE")
        try:
            envelope = samlp.response_from_string(xml)
        except Exception as exc:  # defusedxml and pysaml2 raise several kinds
            raise UpstreamResponseError(f"{idp}: SAMLResponse: {type(exc).__name__}") from exc
        if envelope is None:
            raise UpstreamResponseError(f"{idp}: SAMLResponse is not a samlp:Response")
        plain, encrypted = len(envelope.assertion), len(envelope.encrypted_assertion)
        if _status_code(envelope) == samlp.STATUS_SUCCESS:
            if plain + encrypted != 1:
                raise UpstreamResponseError(f"{idp}: {plain + encrypted} assertions, wanted one")
            if plain and self._require_encryption:
                raise UpstreamResponseError(f"{idp}: assertion not encrypted")
        return xml, envelope

    def _status_error(self, exc: StatusError, envelope: Any) -> UpstreamError:
        idp = self._idp.id
        code = _status_code(envelope)
        detail = f"{idp}: IdP answered {type(exc).__name__} ({code.rpartition(':')[2]})"
        if isinstance(exc, StatusNoAuthnContext):
            return UpstreamRequirementError(detail)
        if isinstance(exc, StatusNoPassive):
            return UpstreamLoginRequiredError(detail)
        if isinstance(exc, _DENIED_STATUSES) or code == samlp.STATUS_RESPONDER:
            return UpstreamDeniedError(detail)
        return UpstreamResponseError(detail)

    def _response_problem(self, response: Any, entity_id: str, expected: _Saved) -> str | None:
        """What pysaml2 leaves unchecked: Destination required, InResponseTo bound to this login
        (pysaml2 only asks that it is outstanding, or not at all when unsolicited is allowed),
        the Issuers, and the bearer Recipient."""
        message, assertion = response.response, response.assertion
        in_response_to = message.in_response_to
        if message.destination != self._acs_url:
            return "Destination is not the ACS URL"
        if in_response_to is None and not self._saml.allow_unsolicited:
            return "unsolicited response"
        if in_response_to is not None and in_response_to != expected.request_id:
            return "InResponseTo is not this login's AuthnRequest"
        if message.issuer is not None and text_of(message.issuer) != entity_id:
            return "Response Issuer is not the IdP"
        if text_of(assertion.issuer) != entity_id:
            return "Assertion Issuer is not the IdP"
        if len(response.assertions) != 1 or len(assertion.authn_statement) != 1:
            return "not exactly one assertion with one AuthnStatement"
        if not any(self._bearer_ok(c, expected) for c in assertion.subject.subject_confirmation):
            return "no bearer SubjectConfirmation for this ACS and AuthnRequest"
        return None

    def _bearer_ok(self, confirmation: Any, expected: _Saved) -> bool:
        data = confirmation.subject_confirmation_data
        return bool(
            confirmation.method == SCM_BEARER
            and data is not None
            and data.recipient == self._acs_url
            and data.not_on_or_after
            and data.in_response_to in (None, expected.request_id)
        )

    # -- after the checks ------------------------------------------------------------------
    def _check_requirements(
        self, expected: _Saved, auth_time: float | None, acr: str | None
    ) -> None:
        idp = self._idp.id
        if expected.force_authn and (
            auth_time is None or auth_time < expected.started_at - self._skew
        ):
            raise UpstreamRequirementError(
                f"{idp}: ForceAuthn, but the IdP did not authenticate again"
            )
        now = self._clock.now()
        if unmet := requirement_problem(expected, auth_time, acr, now=now, skew=self._skew):
            raise UpstreamRequirementError(f"{idp}: {unmet}")

    def _subject(self, verified: VerifiedAssertion) -> str:
        """The configured subject attribute (Suomi.fi: the national identity code, since its
        NameID is transient), else the NameID."""
        name = self._idp.subject
        value = verified.attributes.get(name) if name else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        if name:
            log.warning("idp %s: subject attribute missing; the NameID stands in", self._idp.id)
        if not verified.name_id:
            raise UpstreamResponseError(f"{self._idp.id}: no NameID and no subject attribute")
        return verified.name_id


def _status_code(envelope: Any) -> str:
    status = envelope.status
    code = status.status_code if status is not None else None
    return str(code.value) if code is not None and code.value else samlp.STATUS_SUCCESS


def _quiet_pysaml2() -> None:
    """pysaml2 logs whole responses, NameIDs and attribute values, even at ERROR (a refused
    signature logs the decrypted document, identity code and all): keep its logger above ERROR
    unless the operator configured it on purpose. The broker's own errors name the refusal."""
    saml2_log = logging.getLogger("saml2")
    if saml2_log.level == logging.NOTSET:
        saml2_log.setLevel(logging.CRITICAL)
