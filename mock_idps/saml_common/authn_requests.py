"""Validating an AuthnRequest: signed by a known SP, answered only at an ACS URL of its metadata.

`validate_authn_request` either returns a `PendingRequest` (everything the answer needs, small
enough to ride signed through a login form) or raises `AuthnRequestError`, which the routes
turn into an error page: a request that fails here is never answered with a Response, since its
ACS URL cannot be trusted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST
from saml2.server import Server


class AuthnRequestError(ValueError):
    """The AuthnRequest is malformed, unsigned, wrongly signed, or names an unknown ACS."""


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str | None
    force_authn: bool
    requested_loas: tuple[str, ...]  # RequestedAuthnContext's class refs, in order
    comparison: str
    is_passive: bool = False
    name_id_format: str | None = None  # NameIDPolicy's Format, when the SP named one

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingRequest:
        return cls(**{**data, "requested_loas": tuple(data["requested_loas"])})


def validate_authn_request(
    server: Server,
    saml_request: str,
    binding: str,
    relay_state: str | None,
    sig_alg: str | None = None,
    signature: str | None = None,
) -> PendingRequest:
    """Parse and check the request with pysaml2 (blocking: xmlsec1 runs for POST signatures)."""
    try:
        parsed = server.parse_authn_request(
            saml_request, binding, relay_state=relay_state, sigalg=sig_alg, signature=signature
        )
    except Exception as exc:  # pysaml2 raises a dozen unrelated types here
        raise AuthnRequestError(f"AuthnRequest refused: {type(exc).__name__}") from exc
    if parsed is None or parsed.message is None:
        raise AuthnRequestError("AuthnRequest refused: not a valid AuthnRequest")
    message = parsed.message
    sp_entity_id = message.issuer.text if message.issuer is not None else None
    if not sp_entity_id:
        raise AuthnRequestError("AuthnRequest has no Issuer")
    return PendingRequest(
        request_id=message.id,
        sp_entity_id=sp_entity_id,
        acs_url=_acs_url(server, sp_entity_id, message),
        relay_state=relay_state,
        force_authn=_true(message.force_authn),
        requested_loas=_requested_loas(message),
        comparison=_comparison(message),
        is_passive=_true(message.is_passive),
        name_id_format=_name_id_format(message),
    )


def _true(value: Any) -> bool:
    """An xs:boolean attribute as pysaml2 keeps it (a string, or None when absent)."""
    return str(value).lower() in ("true", "1")


def _name_id_format(message: Any) -> str | None:
    policy = message.name_id_policy
    return str(policy.format) if policy is not None and policy.format else None


def _acs_url(server: Server, sp_entity_id: str, message: Any) -> str:
    if message.protocol_binding not in (None, BINDING_HTTP_POST):
        raise AuthnRequestError("only the HTTP-POST binding is supported for the Response")
    try:
        services = server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
    except Exception as exc:  # pysaml2: KeyError or others for an unknown entity
        raise AuthnRequestError(f"unknown SP {sp_entity_id}") from exc
    if not services:
        raise AuthnRequestError(f"SP {sp_entity_id} has no HTTP-POST AssertionConsumerService")
    if message.assertion_consumer_service_url:
        url = message.assertion_consumer_service_url
        if url not in {s["location"] for s in services}:
            raise AuthnRequestError("AssertionConsumerServiceURL is not in the SP metadata")
        return str(url)
    index = message.assertion_consumer_service_index
    if index is not None:
        matching = [s for s in services if str(s.get("index")) == str(index)]
        if not matching:
            raise AuthnRequestError("AssertionConsumerServiceIndex is not in the SP metadata")
        return str(matching[0]["location"])
    default = [s for s in services if str(s.get("is_default")).lower() == "true"]
    return str((default or services)[0]["location"])


def _requested_loas(message: Any) -> tuple[str, ...]:
    context = message.requested_authn_context
    if context is None:
        return ()
    return tuple(ref.text.strip() for ref in context.authn_context_class_ref if ref.text)


def _comparison(message: Any) -> str:
    context = message.requested_authn_context
    return (context.comparison if context is not None and context.comparison else None) or "exact"
