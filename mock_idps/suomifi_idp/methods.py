"""Identification methods (tunnistusvälineet), their levels of assurance, and LoA matching.

Each method carries the identifier seen in Suomi.fi's own code (DOMAIN.md, *check*). The mock sends
it as the `saml:AuthenticatingAuthority` of the AuthnContext, next to the LoA class reference,
so that it stays out of the attribute statement (whose contents the SP metadata governs).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

LOA2 = "http://ftn.ficora.fi/2017/loa2"  # substantial (korotettu)
LOA3 = "http://ftn.ficora.fi/2017/loa3"  # high (korkea)
EIDAS_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
EIDAS_HIGH = "http://eidas.europa.eu/LoA/high"
_RANK = {LOA2: 2, EIDAS_SUBSTANTIAL: 2, LOA3: 3, EIDAS_HIGH: 3}


@dataclass(frozen=True)
class MethodInfo:
    identifier: str  # the method OID, sent as AuthenticatingAuthority
    loa: str  # AuthnContextClassRef


class Method(enum.Enum):
    PANKKITUNNUKSET = "pankkitunnukset"  # online bank credentials
    VARMENNEKORTTI = "varmennekortti"  # certificate card (sote card, older VRK card)
    MOBIILIVARMENNE = "mobiilivarmenne"  # mobile certificate
    TESTITUNNISTAJA = "testitunnistaja"  # Suomi.fi's own test login

    @property
    def info(self) -> MethodInfo:
        return _INFO[self]


_INFO = {
    Method.PANKKITUNNUKSET: MethodInfo("urn:oid:1.2.246.517.3002.110.1", LOA2),
    Method.VARMENNEKORTTI: MethodInfo("urn:oid:1.2.246.517.3002.110.2", LOA3),
    Method.MOBIILIVARMENNE: MethodInfo("urn:oid:1.2.246.517.3002.110.3", LOA3),
    Method.TESTITUNNISTAJA: MethodInfo("urn:oid:1.2.246.517.3002.110.999", LOA2),
}


def satisfies(loa: str, requested: Sequence[str], comparison: str) -> bool:
    """Whether `loa` meets a RequestedAuthnContext (SAML core §3.3.2.2.1); nothing asked: yes.

    Unknown class references are ignored; a request of only unknown ones cannot be met.
    """
    if not requested:
        return True
    ranks = [_RANK[r] for r in requested if r in _RANK]
    mine = _RANK[loa]
    if not ranks:
        return False
    if comparison == "minimum":
        return mine >= min(ranks)
    if comparison == "better":
        return mine > min(ranks)
    if comparison == "maximum":
        return mine <= max(ranks)
    return mine in ranks  # exact
