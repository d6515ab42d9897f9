"""The login's typed state, without HTTP: each transition, what it keeps and what it clears, and
the one serialisation (round trip, and the keys a broker before the type wrote)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from broker.accounts.service import IdentityKeys
from broker.errors import TransactionError
from broker.journey.login_state import HeldAnswer, LoginState, Phase, PortalView
from broker.journey.registration import Draft, PendingLogin
from broker.journey.steps import Choices, Step
from broker.store.records import UpstreamSession

PORTAL = PortalView("Mielenterveystalo", "https://portal.example/privacy", ("organisation",), ())


def pending(person: str | None = "p1", idp: str = "hus") -> PendingLogin:
    keys = IdentityKeys(f"link-{idp}", person, idp, "organisation", person_proven=True)
    session = UpstreamSession(idp_id=idp, name_id="n", session_index="s")
    return PendingLogin(keys, {"name": "Maija"}, "loa3", ("pwd",), session, 1000.0, "091")


def chosen() -> LoginState:
    state = LoginState.for_portal(PORTAL)
    state = state.answered(Step.ROLE, "professional").answered(Step.ROUTE, "organisation")
    return state.answered(Step.GROUP, "yliopistosairaanhoitopiirit")


def test_a_new_login_chooses_with_the_portals_view() -> None:
    state = LoginState.for_portal(PORTAL)
    assert (state.phase, state.purpose, state.portal) == (Phase.CHOOSING, "portal", PORTAL)
    assert state.choices == Choices()


def test_an_answer_clears_the_answers_after_it() -> None:
    state = chosen()
    assert state.choices == Choices("professional", "organisation", "yliopistosairaanhoitopiirit")
    again = state.answered(Step.ROUTE, "personal")
    assert again.choices == Choices("professional", "personal", None)
    assert state.answered(Step.ROLE, "student").choices == Choices("student", None, None)
    assert state.choices.group == "yliopistosairaanhoitopiirit"  # frozen: the old one unchanged


def test_going_upstream_saves_the_request_and_clears_an_earlier_refusal() -> None:
    refused = chosen().went_upstream("hus", {"state": "s1"}).refused_as_unmet()
    assert refused.unmet
    again = refused.went_upstream("oys", {"request_id": "_r"})
    assert (again.phase, again.idp, again.upstream, again.unmet) == (
        Phase.UPSTREAM,
        "oys",
        {"request_id": "_r"},
        False,
    )


def test_a_held_answer_spends_the_request_and_is_taken_once() -> None:
    held = HeldAnswer("hash", 10.0, pending())
    state = chosen().went_upstream("oys", {"request_id": "_r"}).answer_held(held)
    assert state.upstream is None and state.held == held
    assert state.held_taken().held is None


def test_registering_keeps_the_login_and_spends_the_request() -> None:
    state = chosen().went_upstream("hus", {"state": "s"}).registering(pending(), Draft(email="a@b"))
    assert state.phase is Phase.REGISTERING
    assert state.upstream is None and state.pending == pending()
    assert state.draft == Draft(email="a@b") and not state.link_failed and state.others == ()
    confirming = state.drafted(Draft(email="c@d")).code_sent("c@d", "sv")
    assert (confirming.phase, confirming.code_address(), confirming.language) == (
        Phase.CONFIRMING,
        "c@d",
        "sv",
    )


def test_linking_waits_with_the_first_login_and_brings_it_into_a_registration() -> None:
    first = pending("p1", "hus")
    registering = chosen().went_upstream("hus", {}).registering(first, Draft())
    linking = registering.code_sent("a@b", "fi").linking_another_route()
    assert linking.phase is Phase.LINKING
    assert linking.linking == first
    assert (linking.pending, linking.draft, linking.code_sent_to, linking.idp) == (None,) * 4
    half_reset = dataclasses.replace(registering, upstream={"state": "s"})  # as a state can read
    assert half_reset.linking_another_route().upstream is None
    assert linking.choices == Choices("professional", None, None)
    assert linking.answered(Step.ROUTE, "personal").phase is Phase.LINKING
    second = pending("p1", "suomifi")
    again = linking.went_upstream("suomifi", {}).registering(second, Draft())
    assert again.others == (first.keys,) and again.link_failed and again.linking is None


def test_the_register_entry_and_the_account_page() -> None:
    state = LoginState.for_portal(PORTAL).registering_explicitly("professional")
    assert state.register and state.choices.role == "professional"
    account = state.to_account_page("/account")
    assert (account.purpose, account.then) == ("account", "/account")
    own = LoginState.for_account_pages("/account/delete")
    assert (own.purpose, own.then, own.portal) == ("account", "/account/delete", PortalView())


def test_reading_what_is_not_there_is_a_transaction_error() -> None:
    with pytest.raises(TransactionError, match=r"^no upstream login waits for an account in this"):
        LoginState().pending_login()
    with pytest.raises(TransactionError, match=r"^no e-mail code was sent in this transaction$"):
        LoginState().code_address()


STATES = [
    LoginState(),
    chosen().remembering(),
    chosen().went_upstream("oys", {"request_id": "_r", "prompt": ["login"]}),
    chosen().went_upstream("oys", {}).answer_held(HeldAnswer("h", 5.0, pending())),
    chosen().went_upstream("oys", {}).answer_held(HeldAnswer("h", 5.0, login_required=True)),
    chosen().went_upstream("hus", {}).registering(pending(None), Draft("040", "a@b", ("x",), True)),
    chosen().went_upstream("hus", {}).registering(pending(), Draft()).code_sent("a@b", "en"),
    chosen().went_upstream("hus", {}).registering(pending(), Draft()).linking_another_route(),
    LoginState.for_account_pages("/account").refused_as_unmet(),
]


@pytest.mark.parametrize("state", STATES)
def test_the_state_round_trips_through_its_json(state: LoginState) -> None:
    assert LoginState.from_json(state.to_json()) == state


def test_a_state_written_before_the_type_reads_with_its_phase() -> None:
    """The keys of the broker before LoginState (no `phase`): a login in flight at an upgrade."""
    old: dict[str, Any] = {
        "portal": {"name": "P", "policy_uri": None, "routes": [], "idps": []},
        "role": "professional",
        "route": "organisation",
        "group": None,
        "idp": "hus",
        "upstream": {"state": "s"},
        "held": None,
        "unmet": None,
    }
    assert LoginState.from_json(old).phase is Phase.UPSTREAM
    registering = {**old, "upstream": None, "pending": pending().to_data(), "others": []}
    assert LoginState.from_json(registering).phase is Phase.REGISTERING
    confirming = {**registering, "code_sent_to": "a@b", "language": "fi"}
    assert LoginState.from_json(confirming).phase is Phase.CONFIRMING
    linking = {"role": "professional", "linking": pending().to_data()}
    assert LoginState.from_json(linking).phase is Phase.LINKING
    assert LoginState.from_json({}).phase is Phase.CHOOSING
    chosen_only = {**old, "upstream": None}  # an IdP named, but no request out nor answer held
    assert LoginState.from_json(chosen_only).phase is Phase.CHOOSING
    assert LoginState.from_json({**old, "idp": None}).phase is Phase.CHOOSING


@pytest.mark.parametrize(
    "data",
    [
        {"phase": "flying"},
        {"held": {"handle": "h"}},
        {"pending": {"claims": {}}},
        {"others": [{"nope": 1}]},
    ],
)
def test_an_unreadable_state_is_a_transaction_error(data: dict[str, Any]) -> None:
    with pytest.raises(TransactionError):
        LoginState.from_json(data)


def test_reprs_leave_out_what_may_identify_a_person() -> None:
    state = chosen().went_upstream("hus", {"state": "secret-state"})
    state = state.registering(pending(), Draft(email="maija@example.fi"))
    shown = repr(dataclasses.replace(state, code_sent_to="maija@example.fi"))
    assert "secret-state" not in shown and "maija@example.fi" not in shown and "p1" not in shown


def test_an_answer_after_going_upstream_chooses_again() -> None:
    """Back from the IdP's page to the choices: the login is choosing again, not upstream."""
    upstream = chosen().went_upstream("hus", {"state": "s"})
    assert upstream.phase is Phase.UPSTREAM
    again = upstream.answered(Step.ROUTE, "personal")
    assert again.phase is Phase.CHOOSING
    assert LoginState.from_json(again.to_json()).phase is Phase.CHOOSING


def test_going_upstream_again_drops_an_answer_held_before() -> None:
    held = HeldAnswer("h" * 64, 1.0, None, login_required=True)
    state = chosen().went_upstream("hus", {"n": 1}).answer_held(held)
    assert state.held == held
    assert chosen().answer_held(held).went_upstream("hus", {"n": 2}).held is None


def test_the_phase_is_written_under_its_own_key() -> None:
    state = chosen().went_upstream("hus", {"n": 1})
    assert state.to_json()["phase"] == "upstream"


def test_an_unreadable_state_is_refused_with_its_reason() -> None:
    with pytest.raises(TransactionError) as refused:
        LoginState.from_json({"phase": "no such phase"})
    assert refused.value.detail == "login transaction state unreadable"
