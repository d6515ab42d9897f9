"""Label values come from closed sets: the reason of every error class, the token results, and
the /metrics allow-list's reading of addresses."""

from __future__ import annotations

import inspect

import pytest

from broker import errors
from broker.http.health_routes import may_scrape
from broker.metrics.registry import REASONS, failure_reason, token_result
from broker.settings import MetricsSettings


def test_every_error_class_has_a_reason_from_the_closed_set() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)]
    assert len(classes) > 30
    for kind in classes:
        if issubclass(kind, BaseException):
            assert failure_reason(kind.__new__(kind)) in REASONS
    assert failure_reason(errors.UpstreamLoginRequiredError()) == "login_required"
    assert failure_reason(errors.UpstreamResponseError("a message with hetu 010101-123N")) == (
        "invalid_response"
    )
    assert failure_reason(ValueError("anything")) == "internal"


def test_token_results_are_codes_never_messages() -> None:
    assert token_result(None) == "ok"
    assert token_result(errors.InvalidGrantError("code of maija reused")) == "invalid_grant"
    assert token_result(errors.RateLimitedError("token_ip", 5)) == "rate_limited"
    assert token_result(RuntimeError("boom")) == "server_error"


@pytest.mark.parametrize(
    ("networks", "client", "allowed"),
    [
        (("127.0.0.0/8",), "127.0.0.1", True),
        (("127.0.0.0/8",), "::ffff:127.0.0.1", True),  # a dual-stack socket's IPv4 client
        (("10.0.0.0/8",), "127.0.0.1", False),
        (("10.0.0.0/8",), "10.1.2.3", True),
        (("::1/128",), "::1", True),
        (("127.0.0.0/8",), "not-an-address", False),
        (("127.0.0.0/8",), None, False),
    ],
)
def test_the_allow_list(networks: tuple[str, ...], client: str | None, allowed: bool) -> None:
    settings = MetricsSettings(enabled=True, allowed_networks=networks)
    assert may_scrape(settings, client) is allowed
    assert may_scrape(MetricsSettings(enabled=False, allowed_networks=networks), client) is False


def test_a_bad_network_stops_start_up() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        MetricsSettings(allowed_networks=("10.0.0.0/33",))
