"""The journey's view of the current IdP set: each lookup reads the set current at that moment,
so a reload between a login's start and its answer is seen, and an IdP a reload removed ends
the login as a broken transaction, not a crash."""

from __future__ import annotations

from typing import Any

import pytest

from broker.errors import TransactionError
from broker.journey.idp_set import CurrentIdPs, IdPSet
from broker.upstream.idp_files import load_registry
from broker.upstream.registry import empty_registry
from tests.journey.conftest import REPO_CONFIGS, StubConnector


def idp_set(registry: Any, **connectors: StubConnector) -> IdPSet:
    return IdPSet(registry, {}, connectors, None, None)  # type: ignore[arg-type]


def test_the_journeys_connectors_follow_the_current_set() -> None:
    hus, oys, new_hus = StubConnector("hus"), StubConnector("oys"), StubConnector("hus")
    first = idp_set(empty_registry(), hus=hus, oys=oys)
    holder = CurrentIdPs(first)
    live = holder.journey_connectors()
    assert (live["hus"], live["oys"], sorted(live), len(live)) == (hus, oys, ["hus", "oys"], 2)
    registry = load_registry(REPO_CONFIGS, development=True)
    second = idp_set(registry, hus=new_hus)
    assert holder.install(second) is first
    assert holder.current is second and holder.registry is registry
    assert (live["hus"], list(live), len(live)) == (new_hus, ["hus"], 1)
    with pytest.raises(TransactionError, match=r"^oys: no longer configured$") as gone:
        live["oys"]
    assert gone.value.__cause__ is None and gone.value.__suppress_context__
