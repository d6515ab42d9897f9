"""The IdP set: everything built from the upstream IdP files (the registry, the connectors, the
SAML service provider and single logout with the SAML IdPs), held as one value, and its one
holder, `CurrentIdPs`, that every component reads from. A reload (`broker.idp_reload`) builds a
whole new set and swaps it in with one assignment: a request sees the old set or the new one,
never half of each, and nothing is patched component by component."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from broker.errors import TransactionError
from broker.journey.logout import UpstreamLogouts
from broker.journey.saml_service import SAMLService
from broker.journey.upstreams import Connector
from broker.upstream.registry import Registry

__all__ = ["CurrentIdPs", "IdPSet"]


@dataclass(frozen=True)
class IdPSet:
    """`connectors`: as built, one per IdP (their SAML metadata caches, readiness);
    `journey_connectors`: the same, metered and watched, which the login journey uses."""

    registry: Registry
    connectors: Mapping[str, Connector]
    journey_connectors: Mapping[str, Connector]
    saml: SAMLService | None
    logouts: UpstreamLogouts


class CurrentIdPs:
    def __init__(self, first: IdPSet) -> None:
        self._set = first

    @property
    def current(self) -> IdPSet:
        return self._set

    @property
    def registry(self) -> Registry:
        return self._set.registry

    def install(self, new: IdPSet) -> IdPSet:
        """Serve `new` from now on; the set it replaces."""
        old, self._set = self._set, new
        return old

    def journey_connectors(self) -> Mapping[str, Connector]:
        """The journey's connectors of whichever set is current when one is looked up."""
        return _LiveConnectors(self)


class _LiveConnectors(Mapping[str, Connector]):
    def __init__(self, holder: CurrentIdPs) -> None:
        self._holder = holder

    def __getitem__(self, idp_id: str) -> Connector:
        """An IdP removed by a reload between the journey's lookup of it and this one ends
        the login with the page of a login that cannot go on, as a login whose IdP is gone."""
        try:
            return self._holder.current.journey_connectors[idp_id]
        except KeyError:
            raise TransactionError(f"{idp_id}: no longer configured") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._holder.current.journey_connectors)

    def __len__(self) -> int:
        return len(self._holder.current.journey_connectors)
