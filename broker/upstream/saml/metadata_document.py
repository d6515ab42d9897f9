"""An IdP's SAML metadata as received: size and DOCTYPE guard, the parse, how long it may be
used (`validUntil`, `cacheDuration`, SAML Metadata §2.3.1 and §2.2.x) and when it was published
(`mdrpi:PublicationInfo` `creationInstant`, SAML Metadata RPI §2.2), which say whether a refreshed
document is older than the one held.

The validity that counts is the strictest of the root, the IdP's `EntityDescriptor` (inside an
`EntitiesDescriptor`) and that entity's `IDPSSODescriptor`s: each may carry `validUntil` and
`cacheDuration`. Times are read as UTC (SAML's time values are UTC; an offset is honoured). A
malformed value refuses the metadata: guessing would serve it longer than its publisher meant.

pysaml2 (on the inline metadata the broker hands it) checks `validUntil` only when it parses, by
the system clock and without skew, silently dropping an expired `EntityDescriptor` and refusing an
expired `EntitiesDescriptor`; it ignores `cacheDuration`. The checks here come first, by the
injected clock and as strictly, and the cache never serves past `validUntil`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from broker.errors import UpstreamUnavailableError
from broker.upstream.saml.xml_prolog import declares_dtd

__all__ = ["MAX_METADATA_BYTES", "Validity", "parse_metadata", "validity"]

MAX_METADATA_BYTES: Final = 4 * 1024 * 1024
"""Metadata larger than this is refused before it is parsed (one IdP's is a few kilobytes)."""
_MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
_ENTITY: Final = f"{{{_MD}}}EntityDescriptor"
_IDP_ROLE: Final = f"{{{_MD}}}IDPSSODescriptor"
_PUBLICATION: Final = f"{{{_MD}}}Extensions/{{urn:oasis:names:tc:SAML:metadata:rpi}}PublicationInfo"
_DURATION_RE: Final = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_SECONDS: Final = {"Y": 365 * 86400, "M": 28 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
"""A month counts 28 days and a year 365: a cacheDuration is read as no longer than meant."""


@dataclass(frozen=True)
class Validity:
    """Epoch seconds of the earliest validUntil, the shortest cacheDuration in seconds and the
    latest creationInstant; None where the metadata gives none."""

    valid_until: float | None
    cache_duration: float | None
    published: float | None = None

    def older_than(self, held: Validity) -> str | None:
        """Why this document is older than `held` (published earlier, or valid until earlier:
        a publisher's newer document does not end sooner), or None. What either lacks is not
        compared."""
        if _earlier(self.published, held.published):
            return "published earlier"
        if _earlier(self.valid_until, held.valid_until):
            return "validUntil earlier"
        return None


def _earlier(mine: float | None, theirs: float | None) -> bool:
    return mine is not None and theirs is not None and mine < theirs


def parse_metadata(idp: str, xml: bytes) -> Element:
    """The root element, or UpstreamUnavailableError: too large, a DOCTYPE, not well-formed."""
    if len(xml) > MAX_METADATA_BYTES:
        raise UpstreamUnavailableError(f"{idp}: metadata larger than {MAX_METADATA_BYTES} bytes")
    if declares_dtd(xml):
        raise UpstreamUnavailableError(f"{idp}: metadata with a DOCTYPE")
    try:  # without a DOCTYPE there is no entity to expand and no ID declared but SAML's
        return ElementTree.fromstring(xml)  # noqa: S314 - the DOCTYPE was refused above
    except ElementTree.ParseError as exc:
        raise UpstreamUnavailableError(f"{idp}: metadata is not well-formed XML") from exc


def validity(idp: str, root: Element, entity_id: str | None) -> Validity:
    """The strictest validUntil and cacheDuration over the root, the IdP's EntityDescriptor
    (`entity_id`, or every one with an IDPSSODescriptor) and its IDPSSODescriptors."""
    until: list[float] = []
    durations: list[float] = []
    published: list[float] = []
    for element in _scoped(root, entity_id):
        if (text := element.get("validUntil")) is not None:
            until.append(_instant(idp, text, "validUntil"))
        if (text := element.get("cacheDuration")) is not None:
            durations.append(_duration(idp, text))
        for info in element.findall(_PUBLICATION):
            if (text := info.get("creationInstant")) is not None:
                published.append(_instant(idp, text, "creationInstant"))
    return Validity(
        min(until, default=None), min(durations, default=None), max(published, default=None)
    )


def _scoped(root: Element, entity_id: str | None) -> Iterator[Element]:
    yield root
    entities = [root] if root.tag == _ENTITY else root.findall(f".//{_ENTITY}")
    for entity in entities:
        roles = entity.findall(_IDP_ROLE)
        wanted = entity.get("entityID") == entity_id if entity_id is not None else bool(roles)
        if not wanted:
            continue
        if entity is not root:
            yield entity
        yield from roles


def _instant(idp: str, text: str, what: str) -> float:
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UpstreamUnavailableError(f"{idp}: metadata {what} is malformed") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _duration(idp: str, text: str) -> float:
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None or text.strip() == "P" or text.strip().endswith("T"):  # no unit, or T alone
        raise UpstreamUnavailableError(f"{idp}: metadata cacheDuration is malformed")
    return sum(float(value) * _SECONDS[unit] for unit, value in match.groupdict().items() if value)
