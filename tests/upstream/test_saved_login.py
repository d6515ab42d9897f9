"""The saved upstream login state: what a connector stores in the login transaction comes back
the same, and malformed or foreign state is a broken transaction (TransactionError), never a
crash nor another IdP's login."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from broker.errors import TransactionError
from broker.upstream.saved_login import (
    UpstreamRedirect,
    as_json,
    check_owner,
    reading_saved,
    requested_fields,
)


@dataclass(frozen=True)
class _Saved:
    idp: str
    prompt: tuple[str, ...]
    max_age: int | None
    acr_values: tuple[str, ...]
    started_at: float


SAVED = _Saved("hus", ("login",), 300, ("http://ftn.ficora.fi/2017/loa3",), 1_700_000_000.5)


def test_saved_state_goes_through_json_and_back_unchanged() -> None:
    data = as_json(SAVED)
    assert data == {
        "idp": "hus",
        "prompt": ["login"],
        "max_age": 300,
        "acr_values": ["http://ftn.ficora.fi/2017/loa3"],
        "started_at": 1_700_000_000.5,
    }
    stored = json.loads(json.dumps(data))  # as the login transaction keeps it
    assert requested_fields(stored) == {
        "prompt": ("login",),
        "max_age": 300,
        "acr_values": ("http://ftn.ficora.fi/2017/loa3",),
        "started_at": 1_700_000_000.5,
    }


def test_no_max_age_stays_none_and_text_numbers_are_read() -> None:
    fields = requested_fields(
        {"prompt": [], "max_age": None, "acr_values": [], "started_at": "12.5"}
    )
    assert fields == {"prompt": (), "max_age": None, "acr_values": (), "started_at": 12.5}
    assert (
        requested_fields({"prompt": [], "max_age": "0", "acr_values": [], "started_at": 1})[
            "max_age"
        ]
        == 0
    )


def test_an_upstream_redirect_holds_the_url_and_the_saved_state() -> None:
    redirect = UpstreamRedirect("https://idp.example/authorize?x=1", as_json(SAVED))
    assert redirect.url == "https://idp.example/authorize?x=1"
    assert redirect.saved["idp"] == "hus"


@pytest.mark.parametrize(
    "data",
    [
        {"max_age": None, "acr_values": [], "started_at": 1.0},  # no prompt
        {"prompt": [], "max_age": "soon", "acr_values": [], "started_at": 1.0},
        {"prompt": [], "max_age": None, "acr_values": 7, "started_at": 1.0},
        {"prompt": [], "max_age": None, "acr_values": [], "started_at": None},
    ],
)
def test_malformed_saved_state_is_a_broken_transaction(data: dict[str, Any]) -> None:
    with pytest.raises(TransactionError) as refused, reading_saved("hus"):
        requested_fields(data)
    assert str(refused.value) == "hus: saved upstream login state is malformed"


def test_reading_well_formed_state_raises_nothing() -> None:
    with reading_saved("hus"):
        fields = requested_fields(as_json(SAVED))
    assert fields["max_age"] == 300


def test_other_errors_are_not_taken_for_malformed_state() -> None:
    with pytest.raises(RuntimeError), reading_saved("hus"):
        raise RuntimeError("a bug, not bad state")


def test_state_saved_for_another_idp_is_refused() -> None:
    check_owner("hus", "hus")
    with pytest.raises(TransactionError) as refused:
        check_owner("tyks", "hus")
    assert str(refused.value) == "hus: saved upstream login state is for tyks"
