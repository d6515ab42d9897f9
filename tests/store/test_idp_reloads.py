"""Reload requests for the IdP files, on each backend, from several stores on one database as
the CLI and several replicas would use them."""

from __future__ import annotations

import asyncio

from broker.store.base import Store
from tests.store.conftest import StoreFactory

NOW = 1_800_000_000.0


async def test_the_generation_starts_at_zero_and_each_request_moves_it_by_one(
    store: Store,
) -> None:
    assert await store.idp_reloads.generation() == 0
    assert await store.idp_reloads.request(NOW) == 1
    assert await store.idp_reloads.request(NOW + 1) == 2
    assert await store.idp_reloads.generation() == 2


async def test_requests_at_once_from_several_processes_each_get_their_own_generation(
    store_factory: StoreFactory,
) -> None:
    stores = [store_factory() for _ in range(3)]
    for each in stores:
        await each.open()
    try:
        got = await asyncio.gather(*(s.idp_reloads.request(NOW) for s in stores for _ in range(3)))
        assert sorted(got) == list(range(1, 10))
        assert {await s.idp_reloads.generation() for s in stores} == {9}
    finally:
        for each in stores:
            await each.close()
