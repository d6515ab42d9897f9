"""A verified SAML assertion read into plain data, so that pysaml2's objects stay in the worker
thread that checked them (`saml.SAMLConnector._verify`).

Everything here runs after the checks: the signature, decryption, Destination, InResponseTo,
audience and time window have passed. It reads what the login needs (issuer, NameID and
SessionIndex for single logout, attributes by the Name sent, the authentication context) and
until when a replay of the assertion must be recognised.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Any

from broker.errors import UpstreamResponseError
from broker.store.records import UpstreamSession
from broker.upstream.saml.pysaml2 import str_to_time

__all__ = ["VerifiedAssertion", "read_assertion", "text_of"]


@dataclass(frozen=True)
class VerifiedAssertion:
    """What a verified assertion said, as plain data."""

    issuer: str
    assertion_id: str
    expires_at: float
    name_id: str | None
    session: UpstreamSession | None
    attributes: dict[str, Any]
    class_ref: str | None
    authorities: tuple[str, ...]
    authn_instant: float | None


def read_assertion(
    assertion: Any, entity_id: str, name_id: Any, idp_id: str, clock_skew: int
) -> VerifiedAssertion:
    """`assertion` is pysaml2's, with exactly one AuthnStatement (checked before)."""
    statement = assertion.authn_statement[0]
    context = statement.authn_context
    class_ref = text_of(context.authn_context_class_ref) if context is not None else None
    authorities = tuple(
        a.text.strip() for a in getattr(context, "authenticating_authority", []) if a.text
    )
    if not assertion.id:
        raise UpstreamResponseError(f"{idp_id}: assertion without ID")
    return VerifiedAssertion(
        issuer=entity_id,
        assertion_id=str(assertion.id),
        expires_at=_expires_at(assertion, idp_id) + clock_skew,
        name_id=text_of(name_id),
        session=_upstream_session(name_id, statement.session_index, idp_id),
        attributes=_attributes(assertion),
        class_ref=class_ref,
        authorities=authorities,
        authn_instant=_epoch(statement.authn_instant, idp_id),
    )


def text_of(element: Any) -> str | None:
    """An element's text, stripped; None when it has none."""
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) and text.strip() else None


def _upstream_session(
    name_id: Any, session_index: str | None, idp_id: str
) -> UpstreamSession | None:
    """The NameID as sent (with its format and qualifiers) and the SessionIndex: what a
    LogoutRequest must name (SAML Core §3.7.1)."""
    text = text_of(name_id)
    if text is None:
        return None
    return UpstreamSession(
        idp_id=idp_id,
        name_id=text,
        name_id_format=name_id.format,
        name_qualifier=name_id.name_qualifier,
        sp_name_qualifier=name_id.sp_name_qualifier,
        session_index=session_index or None,
    )


def _expires_at(assertion: Any, idp_id: str) -> float:
    """Until when a replay must be recognised: the latest NotOnOrAfter pysaml2 accepts (the
    caller adds the clock skew)."""
    times = [
        c.subject_confirmation_data.not_on_or_after
        for c in assertion.subject.subject_confirmation
        if c.subject_confirmation_data is not None
    ]
    if assertion.conditions is not None:
        times.append(assertion.conditions.not_on_or_after)
    epochs = [epoch for t in times if t and (epoch := _epoch(t, idp_id)) is not None]
    if not epochs:  # not reached: a bearer confirmation with NotOnOrAfter was required
        raise UpstreamResponseError(f"{idp_id}: assertion without NotOnOrAfter")
    return max(epochs)


def _epoch(text: str | None, idp_id: str) -> float | None:
    if not text:
        return None
    try:
        return float(calendar.timegm(str_to_time(text)))
    except (ValueError, TypeError, AttributeError) as exc:
        raise UpstreamResponseError(f"{idp_id}: malformed SAML time") from exc


def _attributes(assertion: Any) -> dict[str, Any]:
    """Attribute Name as sent (an OID URI for Suomi.fi, not pysaml2's friendly name) → the first
    non-empty value (pysaml2 reads an empty AttributeValue as "", not None)."""
    found: dict[str, Any] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [v.text for v in attribute.attribute_value if text_of(v)]
            if attribute.name and values and attribute.name not in found:
                found[attribute.name] = values[0]
    return found
