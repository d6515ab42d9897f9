"""Rate-limit refusals counted by rule, around the one limiter every route and middleware uses."""

from __future__ import annotations

from broker.clock import Clock
from broker.errors import RateLimitedError
from broker.metrics.registry import Metrics
from broker.rate_limits import RateLimiter
from broker.settings import RateLimit
from broker.store.base import Store

__all__ = ["MeteredRateLimiter"]


class MeteredRateLimiter(RateLimiter):
    def __init__(self, store: Store, clock: Clock, key: bytes, metrics: Metrics) -> None:
        super().__init__(store, clock, key)
        self._metrics = metrics

    async def hit(self, rule: str, subject: str, limit: RateLimit | None) -> None:
        try:
            await super().hit(rule, subject, limit)
        except RateLimitedError:
            self._metrics.refused(rule)  # the rule's name, from the code: never the subject
            raise
