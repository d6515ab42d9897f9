"""Readiness: whether this broker process can serve logins now. Each check answers with a fixed
word, never an exception's text (a driver's message may carry a DSN or a host name).

    store          a tiny read answers within `STORE_TIMEOUT` seconds
    signing_keys   an active key for every configured algorithm
    idp:<id>       the IdP is usable (a SAML IdP: valid metadata held, not past validUntil),
                   counted only with `health.idps_decide_readiness`
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from broker.errors import BrokerError
from broker.frontend.oidc.keys import KeyRing
from broker.journey.upstreams import Connector
from broker.upstream.saml.connector import SAMLConnector

__all__ = ["Readiness", "idp_usability"]

STORE_TIMEOUT: Final = 2.0
PROBE_CLIENT_ID: Final = "readiness-probe"
"""The client the store probe looks up (none is registered by that id: it is a tiny read)."""


def idp_usability(connectors: Mapping[str, Connector]) -> dict[str, Callable[[], bool]]:
    """Per IdP, whether it can be used now, without any I/O (also read by the metrics)."""
    found: dict[str, Callable[[], bool]] = {}
    for idp_id, connector in connectors.items():
        if isinstance(connector, SAMLConnector):
            found[idp_id] = connector.metadata_usable
        else:  # an OIDC IdP's discovery and keys are fetched per login, with their own errors
            found[idp_id] = _always
    return found


def _always() -> bool:
    return True


class Readiness:
    def __init__(
        self,
        store_probe: Callable[[], Awaitable[object]],
        keys: KeyRing,
        algorithms: Sequence[str],
        idps: Callable[[], Mapping[str, Callable[[], bool]]],
        *,
        idps_decide: bool,
    ) -> None:
        self._store_probe = store_probe
        self._keys = keys
        self._algorithms = tuple(algorithms)
        self._idps = idps
        self._idps_decide = idps_decide

    async def checks(self) -> dict[str, str]:
        """Each check's word: `ok`, or what is wrong."""
        found = {"store": await self._check_store(), "signing_keys": self._check_keys()}
        for idp_id, usable in sorted(self._idps().items()):
            found[f"idp:{idp_id}"] = "ok" if usable() else "metadata_missing_or_expired"
        return found

    def failing(self, checks: Mapping[str, str]) -> list[str]:
        """The checks that make this process not ready."""
        return [
            name
            for name, word in checks.items()
            if word != "ok" and (self._idps_decide or not name.startswith("idp:"))
        ]

    async def _check_store(self) -> str:
        try:
            await asyncio.wait_for(self._store_probe(), STORE_TIMEOUT)
        except TimeoutError:
            return "timeout"
        except Exception:  # any driver's failure: the store does not answer
            return "failing"
        return "ok"

    def _check_keys(self) -> str:
        try:
            for alg in self._algorithms:
                self._keys.signing_key(alg)
        except BrokerError:
            return "no_active_key"
        return "ok"
