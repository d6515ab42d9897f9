"""The audit trail and the helpdesk's error records without HTTP: what each record holds (and
leaves out), which failures end a login, and that a store failure never takes the page down."""

from __future__ import annotations

import logging

import pytest

from broker.errors import (
    AccountLinkError,
    BrokerError,
    InvalidRequestError,
    LinkAssuranceError,
    LoginElsewhereError,
    LoginRequiredError,
    PortalRequirementError,
    StoreError,
    TransactionError,
    UnknownChoiceError,
    UpstreamDeniedError,
    UpstreamLoginRequiredError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.journey.audit_trail import AuditTrail, failure_reason
from broker.journey.login_state import state_of
from broker.journey.steps import Step
from broker.request_context import bind_login, bound_request, login_ref
from broker.store.error_events import ErrorEvent
from broker.store.login_events import LoginEvent
from tests.journey.conftest import T0, JourneyParts, portal_params


def trail(parts: JourneyParts) -> AuditTrail:
    return parts.journey._audit


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (UpstreamResponseError("x"), "upstream_response_refused"),
        (UpstreamLoginRequiredError("x"), "upstream_login_required"),
        (UpstreamDeniedError("x"), "upstream_denied"),
        (UpstreamUnavailableError("x"), "upstream_unavailable"),
        (LinkAssuranceError("x"), "link_assurance_too_low"),
        (PortalRequirementError("x", portal=None), "upstream_requirement_unmet"),
        (UpstreamRequirementError("x"), "upstream_requirement_unmet"),
        (LoginElsewhereError("x"), "login_elsewhere"),
        (TransactionError("x"), "transaction_invalid"),
        (AccountLinkError("x"), "account_link_refused"),
        (LoginRequiredError("x"), "login_required"),
        (InvalidRequestError("x"), "refused_to_portal"),
        (UnknownChoiceError("x"), None),
        (ValueError("x"), None),
    ],
)
def test_a_failure_is_recorded_by_the_nearest_class_of_its_error(
    error: Exception, reason: str | None
) -> None:
    assert failure_reason(error) == reason


async def test_a_completed_login_records_account_portal_route_idp_and_acr(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    tx = await parts.tx(await parts.journey.begin(portal_params(), frozenset(), None))
    await trail(parts).login_completed(tx, "acc-1", None)  # no IdP yet, no route chosen
    await parts.journey.choose(tx, Step.ROLE, "professional")
    tx = await parts.reload(tx)
    await parts.journey.choose(tx, Step.ROUTE, "organisation")
    chosen = await parts.reload(tx)
    parts.clock.advance(5)
    await trail(parts).login_completed(chosen, "acc-2", "loa2")
    went = await parts.journey._transactions.save(
        chosen, state_of(chosen).went_upstream("suomifi", {})
    )
    await trail(parts).login_completed(went, "acc-3", "loa3")
    gone = await parts.journey._transactions.save(
        chosen, state_of(chosen).went_upstream("gone", {})
    )
    await trail(parts).login_completed(gone, "acc-4", None)
    ref = login_ref(tx.tx_id)
    assert await parts.store.login_events.export() == [
        LoginEvent(T0, "completed", None, "acc-1", "portal", None, None, None, ref),
        LoginEvent(T0 + 5, "completed", None, "acc-2", "portal", "organisation", None, "loa2", ref),
        LoginEvent(
            T0 + 5, "completed", None, "acc-3", "portal", "personal", "suomifi", "loa3", ref
        ),
        LoginEvent(T0 + 5, "completed", None, "acc-4", "portal", "organisation", "gone", None, ref),
    ]


async def test_an_account_pages_login_records_no_portal(parts: JourneyParts) -> None:
    tx = await parts.tx(await parts.journey.begin_for_account(None))
    await trail(parts).login_completed(tx, "acc", None)
    [event] = await parts.store.login_events.export()
    assert (event.client_id, event.account_id) == (None, "acc")


async def test_a_login_by_the_sso_session_records_route_sso(parts: JourneyParts) -> None:
    session = await parts.journey._provider.sessions.start(
        "acc", acr="loa3", amr=("pwd",), claims={}, auth_time=T0
    )
    await trail(parts).login_by_session("portal", session)
    assert await parts.store.login_events.export() == [
        LoginEvent(T0, "completed", account_id="acc", client_id="portal", route="sso", acr="loa3")
    ]


async def test_a_failure_is_recorded_only_for_a_login_under_way(parts: JourneyParts) -> None:
    with bound_request("req-1"):
        await trail(parts).login_failed(UpstreamDeniedError("x"), "E1")  # no login found
        await trail(parts).login_failed(ValueError("x"), "E1", unexpected=True)
        bind_login("tx-1", "portal", "organisation", "hus")
        await trail(parts).login_failed(UnknownChoiceError("x"), "E2")  # ends no login
        await trail(parts).login_failed(UpstreamDeniedError("x"), "E3")
        await trail(parts).login_failed(ValueError("boom"), unexpected=True)
        bind_login("tx-2", "", None, "suomifi")
        await trail(parts).login_failed(TransactionError("x"))
        bind_login("tx-3", "portal", "personal", None)
        await trail(parts).login_failed(TransactionError("x"))
    assert await parts.store.login_events.export() == [
        LoginEvent(
            T0,
            "failed",
            "upstream_denied",
            None,
            "portal",
            "organisation",
            "hus",
            None,
            login_ref("tx-1"),
            "E3",
        ),
        LoginEvent(
            T0,
            "failed",
            "server_error",
            None,
            "portal",
            "organisation",
            "hus",
            None,
            login_ref("tx-1"),
            None,
        ),
        LoginEvent(
            T0,
            "failed",
            "transaction_invalid",
            None,
            None,
            "personal",
            "suomifi",
            None,
            login_ref("tx-2"),
            None,
        ),
        LoginEvent(
            T0,
            "failed",
            "transaction_invalid",
            None,
            "portal",
            "personal",
            None,
            None,
            login_ref("tx-3"),
            None,
        ),
    ]


async def test_an_error_is_recorded_during_a_login_or_when_unexpected(parts: JourneyParts) -> None:
    long_path = "/login/" + "ab/" * 100
    with bound_request("req-1"):
        await trail(parts).error_shown("E0", "/nowhere", 404, UnknownChoiceError("x"), "error.x")
        await trail(parts).error_shown(
            "E1", "/boom?code=abc", 500, ValueError("x"), "error.server", unexpected=True
        )
        bind_login("tx-1", "portal", "organisation", "hus")
        await trail(parts).error_shown(
            "E2", long_path, 400, UnknownChoiceError("x"), "error.choice"
        )
    assert await parts.store.error_events.find("E0") == []
    [unexpected] = await parts.store.error_events.find("E1")
    assert unexpected == ErrorEvent(
        "E1",
        T0,
        "/boom?code=[redacted]",
        500,
        "ValueError",
        "error.server",
        None,
        None,
        "req-1",
        None,
    )
    [during] = await parts.store.error_events.find("E2")
    assert during == ErrorEvent(
        "E2",
        T0,
        long_path[:200],
        400,
        "UnknownChoiceError",
        "error.choice",
        "portal",
        "hus",
        "req-1",
        login_ref("tx-1"),
    )


async def test_old_records_are_purged_by_their_own_retention(parts: JourneyParts) -> None:
    with bound_request("r"):
        bind_login("tx", "portal", None, None)
        for error_id in ("E-old", "E-new"):
            await trail(parts).login_failed(TransactionError("x"), error_id)
            await trail(parts).error_shown(error_id, "/p", 400, TransactionError("x"), "m")
            parts.clock.advance(2 * 86400)
    now = T0 + 3 * 86400 + 1  # E-old is 3 days and 1 s old, E-new 1 day and 1 s
    await trail(parts).purge(now, login_days=3, error_days=1)
    assert [e.error_id for e in await parts.store.login_events.export()] == ["E-new"]
    assert await parts.store.error_events.find("E-new") == []
    await trail(parts).purge(now, login_days=1, error_days=1)
    assert await parts.store.login_events.export() == []
    with bound_request("r"):  # an error an hour old outlives a retention of a day
        bind_login("tx", "portal", None, None)
        await trail(parts).error_shown("E-fresh", "/p", 400, TransactionError("x"), "m")
    later = parts.clock.now() + 3600
    await trail(parts).purge(later, login_days=1, error_days=1)
    assert [e.error_id for e in await parts.store.error_events.find("E-fresh")] == ["E-fresh"]


class _Failing:
    async def add(self, event: object) -> None:
        raise StoreError("disk full")


async def test_a_record_that_cannot_be_written_is_logged_not_raised(
    parts: JourneyParts, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts.store, "login_events", _Failing())
    monkeypatch.setattr(parts.store, "error_events", _Failing())
    with bound_request("r"), caplog.at_level(logging.ERROR, "broker.journey.audit_trail"):
        bind_login("tx", "portal", None, None)
        await trail(parts).login_failed(TransactionError("x"), "E")
        await trail(parts).error_shown("E", "/p", 400, TransactionError("x"), "m")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "could not record the login event: StoreError"),
        ("ERROR", "could not record the error event: StoreError"),
    ]
    assert issubclass(StoreError, BrokerError)
