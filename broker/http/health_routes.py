"""Operators' endpoints: liveness, readiness and the Prometheus metrics.

/health/live answers whenever the process serves HTTP (restart it if not); /health/ready
answers 503 with the failing checks named while this process cannot serve logins (take it out
of the load balancer); /healthz stays as it was. /metrics is served only with
`metrics.enabled`, and then only to `metrics.allowed_networks`; to anyone else it does not
exist (404, the same page as any unknown path).
"""

from __future__ import annotations

import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker import paths
from broker.errors import NotFoundError
from broker.http.context import broker
from broker.settings import MetricsSettings

NO_STORE = {"Cache-Control": "no-store"}


async def live(request: Request) -> Response:
    return JSONResponse({"status": "alive"}, headers=NO_STORE)


async def ready(request: Request) -> Response:
    readiness = broker(request).readiness
    checks = await readiness.checks()
    failing = readiness.failing(checks)
    body = {"status": "not_ready" if failing else "ready", "checks": checks, "failing": failing}
    return JSONResponse(body, status_code=503 if failing else 200, headers=NO_STORE)


async def metrics(request: Request) -> Response:
    ctx = broker(request)
    client = request.client.host if request.client else None
    if not may_scrape(ctx.settings.metrics, client):
        raise NotFoundError("/metrics: disabled, or the client is not in allowed_networks")
    body = generate_latest(ctx.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def may_scrape(settings: MetricsSettings, client: str | None) -> bool:
    """Enabled, and the client's address is in one of the allowed networks."""
    if not settings.enabled or client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.allowed_networks
    )


ROUTES = [
    Route(paths.HEALTH_LIVE, live, methods=["GET"]),
    Route(paths.HEALTH_READY, ready, methods=["GET"]),
    Route(paths.METRICS, metrics, methods=["GET"]),
]
