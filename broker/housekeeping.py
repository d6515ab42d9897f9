"""Background housekeeping, split by who must do it when several broker processes (replicas)
share one store.

Every process, every round: pick up signing keys and SAML SP keys that the CLI or another
process changed, and read the partner-organisation catalogue again. Each process serves from its
own copy in memory, so each must refresh it (SAML metadata refresh is per process for the same
reason, in `broker.journey.saml_service`).

One process at a time (the `housekeeping` lease in the store): purge expired rows, the account
audit trail, login events and error events past their retention, and delete the files of expired
signing keys. The lease is renewed each round and lasts three rounds, so a holder that dies is
replaced within three rounds; it is never held by two processes at once (`broker.store.leases`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable

from broker.accounts.catalogue import load_catalogue
from broker.clock import Clock
from broker.errors import StoreUnavailableError
from broker.frontend.oidc.keys import KeyRing
from broker.journey.audit_trail import AuditTrail
from broker.journey.registration import AccountStage
from broker.journey.saml_service import SAMLService
from broker.settings import Settings
from broker.store.base import Store

__all__ = ["LEASE", "Housekeeping", "holder_id"]

log = logging.getLogger(__name__)

LEASE = "housekeeping"


def holder_id() -> str:
    """This process's name as a lease holder: readable (host, pid) and unique (random part),
    also for several apps in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Housekeeping:
    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        saml: Callable[[], SAMLService | None],
        accounts: AccountStage,
        audit: AuditTrail,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._store, self._keys, self._saml, self._accounts = store, keys, saml, accounts
        self._audit = audit
        self._kept = settings.audit
        self._clock = clock
        self._interval = settings.housekeeping_seconds
        self._retention = settings.accounts.audit_retention_days * 86400
        self.holder = holder_id()

    async def run(self) -> None:
        """Rounds until cancelled; a failed round is logged and tried again next time."""
        try:
            while True:
                try:
                    await self.round()
                except StoreUnavailableError as exc:  # an outage, not a bug: no traceback
                    log.warning("housekeeping: %s; will retry", exc)
                except Exception:
                    log.exception("housekeeping failed; will retry")
                await asyncio.sleep(self._interval)
        finally:
            await self._release()

    async def round(self) -> bool:
        """One round; whether this process held the lease and did the once-only part."""
        await self._refresh()
        now = self._clock.now()
        if not await self._store.leases.take(LEASE, self.holder, now, 3 * self._interval):
            return False
        purged = await self._store.purge_expired(now)
        purged += await self._store.audit.purge(now - self._retention)
        kept = self._kept
        await self._audit.purge(now, kept.login_retention_days, kept.error_retention_days)
        pruned = self._keys.prune()
        log.debug("housekeeping by %s: %d rows purged, keys pruned %s", self.holder, purged, pruned)
        return True

    async def _refresh(self) -> None:
        self._keys.reload_if_changed()
        if (saml := self._saml()) is not None:  # the current IdP set's
            await saml.reload_keys()
        self._accounts.catalogue = await load_catalogue(self._store.accounts, self._clock.now())

    async def _release(self) -> None:
        """On shutdown, so that another process need not wait for the lease to expire."""
        try:
            await asyncio.shield(self._store.leases.release(LEASE, self.holder))
        except Exception:
            log.warning("housekeeping lease not released; it expires by itself")
