"""The login transactions where they are kept (`journey/transactions.py`), without HTTP: each
refusal by its reason (what operators read in the log), the expiry at its very second, a login
finished once only, and the log context each loaded login binds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.errors import TransactionError
from broker.journey.login_state import state_of
from broker.journey.steps import Choices
from broker.journey.transactions import LoginTransactions
from broker.request_context import bound_request, current, login_ref
from broker.store.records import TransactionRecord
from tests.journey.conftest import JourneyParts, portal_params


async def started(parts: JourneyParts, **changes: str) -> TransactionRecord:
    await parts.add_portal()
    redirect = await parts.journey.begin(portal_params(**changes), frozenset(), None)
    return await parts.tx(redirect)


def transactions(parts: JourneyParts) -> LoginTransactions:
    return LoginTransactions(parts.store, parts.clock, 600)


async def refusal(call: object) -> str:
    with pytest.raises(TransactionError) as refused:
        await call  # type: ignore[misc]
    return refused.value.detail


async def test_each_refusal_says_why(parts: JourneyParts) -> None:
    tx = await started(parts)
    logins = transactions(parts)
    assert await refusal(logins.load(None)) == "no login transaction in this browser"
    assert await refusal(logins.load("")) == "no login transaction in this browser"
    assert await refusal(logins.load("nosuch")) == (
        "login transaction not found or already finished"
    )
    await logins.finish(tx)
    assert await refusal(logins.finish(tx)) == "login transaction already finished"
    assert await refusal(logins.load(tx.tx_id)) == (
        "login transaction not found or already finished"
    )


async def test_a_login_expires_at_its_very_second(parts: JourneyParts) -> None:
    tx = await started(parts)
    logins = transactions(parts)
    parts.clock.advance(tx.expires_at - parts.clock.now() - 1)
    assert (await logins.load(tx.tx_id)).tx_id == tx.tx_id
    parts.clock.advance(1)
    assert await refusal(logins.load(tx.tx_id)) == "login transaction expired"


async def test_a_loaded_login_names_its_portal_route_and_idp_in_the_log(
    parts: JourneyParts,
) -> None:
    tx = await started(parts, idp_hint="hus")
    state = replace(state_of(tx), choices=Choices("professional", "organisation", None))
    await parts.store.transactions.put(replace(tx, data=state.to_json()))
    with bound_request("r"):
        await transactions(parts).load(tx.tx_id)
        bound = current()
    assert (bound.login_ref, bound.client_id, bound.route, bound.idp) == (
        login_ref(tx.tx_id),
        "portal",
        "organisation",
        "hus",
    )


async def test_an_unreadable_login_is_still_named_in_the_log(parts: JourneyParts) -> None:
    tx = await started(parts, idp_hint="hus")
    await parts.store.transactions.put(replace(tx, data={"phase": "no such phase"}))
    with bound_request("r"):
        await transactions(parts).load(tx.tx_id)  # refused where its state is read
        bound = current()
    assert (bound.login_ref, bound.client_id, bound.route, bound.idp) == (
        login_ref(tx.tx_id),
        "portal",
        None,
        None,
    )
