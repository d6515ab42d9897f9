"""The broker's SAML service provider at run time: the context its connectors share, the
single-logout signer and the signed SP metadata, kept current across key rollovers. Built by
`broker.assembly.saml` when a SAML IdP is configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from broker.journey.logout import SPSigner
from broker.journey.upstreams import SAMLContext
from broker.upstream.saml.sp import (
    ServiceProvider,
)
from broker.upstream.saml.sp_keys import SPKeyRing

log = logging.getLogger(__name__)


class SAMLService:
    """The SP's connector context, single-logout signer and signed metadata. After a key
    rollover step (`sote-broker saml-keys`), `reload_keys` picks the new key set up; the
    connectors and the signer read it from the SP, and the metadata is signed again."""

    def __init__(self, context: SAMLContext, describe: Callable[[ServiceProvider], bytes]) -> None:
        self.context = context
        self.signer = SPSigner(context.sp)
        self._describe = describe
        self._metadata = describe(context.sp)
        self._version = context.sp.keys.version
        self._lock = asyncio.Lock()

    @property
    def sp(self) -> ServiceProvider:
        return self.context.sp

    async def metadata(self) -> bytes:
        """The signed SP metadata for the current key set (signed again after a change)."""
        async with self._lock:
            version = self.sp.keys.version
            if version != self._version:
                self._metadata = await asyncio.to_thread(self._describe, self.sp)
                self._version = version
            return self._metadata

    async def reload_keys(self) -> bool:
        """True if a rollover step changed the SP's key set (housekeeping calls this)."""
        ring = self.sp.key_source
        if not isinstance(ring, SPKeyRing):
            return False
        changed = await asyncio.to_thread(ring.reload_if_changed)
        if changed:
            names = ", ".join(f"{role} {pair.name}" for role, pair in ring.keys.pairs())
            log.info("SAML SP keys changed: %s", names)
        return changed
