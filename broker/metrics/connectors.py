"""The login metrics, counted around each IdP's connector (the journey's one door to an IdP):
started when the connector sends the person to the IdP, completed when the IdP's answer passed
every check, failed (with the error class as reason) when either step raises; and the time each
step spends in the connector. The journey itself is untouched."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from broker.claims.identity import RawIdentity
from broker.journey.upstreams import Connector
from broker.metrics.registry import Metrics, failure_reason
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.registry import IdP, Registry

__all__ = ["MeteredConnector", "metered_connectors"]


def metered_connectors(
    connectors: Mapping[str, Connector], registry: Registry, metrics: Metrics
) -> dict[str, Connector]:
    metered: dict[str, Connector] = {}
    for idp_id, connector in connectors.items():
        idp = registry.idp(idp_id)
        metered[idp_id] = connector if idp is None else MeteredConnector(connector, idp, metrics)
    return metered


class MeteredConnector:
    def __init__(self, inner: Connector, idp: IdP, metrics: Metrics) -> None:
        self._inner = inner
        self._idp = idp.id
        self._route = idp.route
        self._metrics = metrics

    async def start(self, login: UpstreamLogin) -> Any:
        async with self._step("start"):
            started = await self._inner.start(login)
        self._metrics.logins_started.labels(self._route, self._idp).inc()
        return started

    async def finish(self, params: Mapping[str, str], saved: Mapping[str, Any]) -> RawIdentity:
        async with self._step("finish"):
            raw = await self._inner.finish(params, saved)
        self._metrics.logins_completed.labels(self._route, self._idp).inc()
        return raw

    @asynccontextmanager
    async def _step(self, step: str) -> AsyncIterator[None]:
        began = time.perf_counter()
        try:
            yield
        except Exception as exc:
            reason = failure_reason(exc)
            self._metrics.logins_failed.labels(self._route, self._idp, reason).inc()
            raise
        finally:
            elapsed = time.perf_counter() - began
            self._metrics.upstream_seconds.labels(self._idp, step).observe(elapsed)
