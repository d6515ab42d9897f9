"""What the journey asks of an upstream login: one frozen, comparable value."""

from __future__ import annotations

import dataclasses

import pytest

from broker.upstream.login_request import UpstreamLogin


def test_lists_become_tuples_and_equal_requests_compare_equal() -> None:
    login = UpstreamLogin(
        "https://broker.example/callback/hus",
        prompt=["login"],  # type: ignore[arg-type]
        acr_values=["loa3", "high"],  # type: ignore[arg-type]
    )
    assert login.prompt == ("login",)
    assert login.acr_values == ("loa3", "high")
    assert login == UpstreamLogin(
        "https://broker.example/callback/hus", prompt=("login",), acr_values=("loa3", "high")
    )
    assert hash(login) == hash(
        UpstreamLogin(
            "https://broker.example/callback/hus", prompt=("login",), acr_values=("loa3", "high")
        )
    )


def test_defaults_ask_nothing_more() -> None:
    login = UpstreamLogin("https://broker.example/acs/suomifi")
    assert dataclasses.asdict(login) == {
        "redirect_uri": "https://broker.example/acs/suomifi",
        "prompt": (),
        "max_age": None,
        "login_hint": None,
        "acr_values": (),
        "ui_locales": None,
        "relay_state": None,
    }


def test_a_login_request_cannot_be_changed() -> None:
    login = UpstreamLogin("https://broker.example/callback/hus")
    with pytest.raises(dataclasses.FrozenInstanceError):
        login.max_age = 0  # type: ignore[misc]
