"""Rate limits in fixed windows, counted in the store so that every broker process sharing it
counts together (a counter in process memory would give each process its own allowance).

A counter is named by a keyed hash of its rule and subject (an address, a client id, an e-mail
address), so the store holds no address; its row lives until its window is over and housekeeping
purges it. Each request costs one upsert.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from broker.clock import Clock
from broker.errors import RateLimitedError
from broker.settings import RateLimit
from broker.store.base import Store

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, store: Store, clock: Clock, key: bytes) -> None:
        self._store = store
        self._clock = clock
        self._key = key

    async def hit(self, rule: str, subject: str, limit: RateLimit | None) -> None:
        """Count this request against `rule` for `subject`; RateLimitedError (with the seconds
        until the window ends) when it is one too many. `limit` None: not limited."""
        if limit is None:
            return
        now = self._clock.now()
        window = int(now // limit.seconds) * limit.seconds
        ends = window + limit.seconds
        hits = await self._store.count_hit(self._counter(rule, subject), window, ends)
        if hits > limit.hits:
            raise RateLimitedError(
                f"{rule}: over {limit.hits} in {limit.seconds} s", _retry(ends - now)
            )

    def _counter(self, rule: str, subject: str) -> str:
        message = f"rate-limit\x00{rule}\x00{subject}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


def _retry(seconds: float) -> int:
    return max(1, math.ceil(seconds))
