"""docker/grafana-dashboard.json parses, has the panels an operator needs at a glance, and its
PromQL names only metrics the broker exports (a renamed metric would leave a panel empty
without anyone noticing)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from broker.metrics import Metrics
from tests.deploy.conftest import DOCKER

DASHBOARD = DOCKER / "grafana-dashboard.json"

PROMQL_WORDS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "rate",
        "increase",
        "irate",
        "histogram_quantile",
        "clamp_min",
        "clamp_max",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "label_values",
        "topk",
        "bottomk",
        "abs",
    ]
)
"""Functions, aggregations and keywords of the expressions here: not metric names."""


def exported_names() -> set[str]:
    """Every sample name the broker's registry can expose (a counter's _total, a histogram's
    _bucket/_sum/_count), whether or not it has been observed yet."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {
        family.name + suffix
        for family in Metrics().registry.collect()
        for suffix in suffixes[family.type]
    }


def expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression: the panels' targets and the query variables (a datasource
    variable's query is a datasource type, not PromQL)."""
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["query"]


def metric_names(expr: str) -> set[str]:
    """Identifiers of `expr` that are metric names: label matchers ({...}), grouping labels
    (by (...)), ranges ([5m]), strings and numbers taken out, PromQL's own words left out."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"label_values\(([a-zA-Z_:][\w:]*),\s*\w+\)", r"\1", bare)
    words = set(re.findall(r"[a-zA-Z_:][\w:]*", bare))
    return words - PROMQL_WORDS


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def test_the_dashboard_uses_only_metrics_the_broker_exports() -> None:
    exported = exported_names()
    used: set[str] = set()
    for expr in expressions(load()):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        used |= names
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    assert len(used) >= 7


def test_the_extraction_sees_a_misspelt_metric() -> None:
    names = metric_names('sum by (idp) (rate(sote_broker_login_failed_total{idp="x"}[5m]))')
    assert names == {"sote_broker_login_failed_total"}
    assert not names <= exported_names()


def test_the_panels_an_operator_needs() -> None:
    panels = {panel["title"]: panel for panel in load()["panels"]}
    wanted = {
        "Login failures by IdP and reason": "sote_broker_logins_failed_total",
        "Upstream latency p95 per IdP": "sote_broker_upstream_seconds_bucket",
        "Token requests by grant type and result": "sote_broker_token_requests_total",
        "Rate-limit refusals by rule": "sote_broker_rate_limited_total",
    }
    for title, metric in wanted.items():
        assert metric in json.dumps(panels[title]["targets"]), title
    assert "by (idp, reason)" in panels["Login failures by IdP and reason"]["targets"][0]["expr"]
