"""The broker's metrics, in a registry of its own per app (never the process-global one, so two
apps in one process, as in the tests, count apart).

Label values come from closed sets only: IdP ids and routes from the IdP files, reasons from
the error classes (`failure_reason`), grant types the token endpoint knows, OAuth error codes,
rate-limit rule names and store method names. Nothing a request carries becomes a label value
as it is, so neither personal data nor an unbounded number of series can get in.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from broker.errors import (
    BrokerError,
    LinkAssuranceError,
    OAuthError,
    RateLimitedError,
    RequestLimitError,
    StoreError,
    TransactionError,
    UpstreamDeniedError,
    UpstreamError,
    UpstreamLoginRequiredError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)

__all__ = ["GRANT_TYPES", "Metrics", "failure_reason", "token_result"]

_REASONS: Final[tuple[tuple[type[BaseException], str], ...]] = (
    # subclasses before their parents: the first match names the reason
    (UpstreamLoginRequiredError, "login_required"),
    (UpstreamDeniedError, "denied"),
    (LinkAssuranceError, "link_assurance"),
    (UpstreamRequirementError, "requirements"),
    (UpstreamResponseError, "invalid_response"),
    (UpstreamUnavailableError, "unavailable"),
    (UpstreamError, "upstream"),
    (TransactionError, "transaction"),
    (StoreError, "store"),
    (BrokerError, "other"),
)
REASONS: Final = frozenset(reason for _, reason in _REASONS) | {"internal"}
"""Every value of the `reason` label."""

GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token"})
"""Grant types counted by name; anything else a client sends is counted as `other`."""

_LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STORE_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


def failure_reason(exc: BaseException) -> str:
    """The `reason` label of a failed login: the error's class, never its message."""
    return next((reason for kind, reason in _REASONS if isinstance(exc, kind)), "internal")


def token_result(exc: BaseException | None) -> str:
    """The `result` label of a token request: ok, the OAuth error code (RFC 6749 §5.2, a
    class attribute), rate_limited, request_limit or server_error."""
    if exc is None:
        return "ok"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, RequestLimitError):
        return "request_limit"
    if isinstance(exc, OAuthError):
        return exc.error
    return "server_error"


class Metrics:
    """Every metric the broker exports, registered in `self.registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.logins_started = Counter(
            "sote_broker_logins_started",
            "Logins sent on to an upstream IdP.",
            ["route", "idp"],
            registry=r,
        )
        self.logins_completed = Counter(
            "sote_broker_logins_completed",
            "Upstream logins whose answer passed every check.",
            ["route", "idp"],
            registry=r,
        )
        self.logins_failed = Counter(
            "sote_broker_logins_failed",
            "Upstream logins that failed, by the error's class (reason).",
            ["route", "idp", "reason"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "sote_broker_upstream_seconds",
            "Time in an IdP's connector: step start (SAML metadata when due, the request) and "
            "finish (OIDC code exchange and keys, the answer's checks).",
            ["idp", "step"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.idp_usable = Gauge(
            "sote_broker_idp_usable",
            "1 if the IdP can be used now (SAML: valid metadata held), else 0.",
            ["idp"],
            registry=r,
        )
        self.idp_disturbed = Gauge(
            "sote_broker_idp_disturbed",
            "1 while this process has raised the IdP's automatic notice (source: watcher, from "
            "failing logins; probe, from the background probe), 0 once it ended it.",
            ["idp", "source"],
            registry=r,
        )
        self.token_requests = Counter(
            "sote_broker_token_requests",
            "Token endpoint requests by grant type and result (ok or the OAuth error code).",
            ["grant_type", "result"],
            registry=r,
        )
        self.store_seconds = Histogram(
            "sote_broker_store_seconds",
            "Time of each store operation, by operation (the store method).",
            ["operation"],
            buckets=_STORE_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "sote_broker_rate_limited",
            "Requests refused by a rate limit, by rule.",
            ["rule"],
            registry=r,
        )

    def token_request(self, grant_type: str, exc: BaseException | None) -> None:
        kind = grant_type if grant_type in GRANT_TYPES else "other"
        self.token_requests.labels(kind, token_result(exc)).inc()

    def refused(self, rule: str) -> None:
        self.rate_limited.labels(rule).inc()
