"""Prometheus metrics of one broker process: what they count (`registry`), the store's timing
(`store_timing`) and the upstream connectors' (`connectors`). Served at /metrics
(`broker.http.health_routes`); docs/operating.md lists every metric and its labels."""

from broker.metrics.registry import Metrics

__all__ = ["Metrics"]
