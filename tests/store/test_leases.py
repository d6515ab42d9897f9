"""Leases (housekeeping's once-only work), on each backend, from several stores on one database
as several replicas would hold them."""

from __future__ import annotations

import asyncio

from broker.store.base import Store
from tests.store.conftest import StoreFactory

NOW = 1_800_000_000.0


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    assert await store.leases.take("work", "a", NOW, 30)
    assert not await store.leases.take("work", "b", NOW + 29, 30)
    assert await store.leases.take("work", "a", NOW + 29, 30)  # renewed until NOW + 59
    assert not await store.leases.take("work", "b", NOW + 58, 30)
    assert await store.leases.take("work", "b", NOW + 60, 30)  # a died: b takes over
    assert not await store.leases.take("work", "a", NOW + 61, 30)


async def test_a_released_lease_is_taken_at_once(store: Store) -> None:
    assert await store.leases.take("work", "a", NOW, 30)
    await store.leases.release("work", "b")  # not b's to release
    assert not await store.leases.take("work", "b", NOW, 30)
    await store.leases.release("work", "a")
    assert await store.leases.take("work", "b", NOW, 30)


async def test_replicas_asking_at_once_get_one_holder(store_factory: StoreFactory) -> None:
    replicas = [store_factory() for _ in range(4)]
    for replica in replicas:
        await replica.open()
    try:
        for round_at in (NOW, NOW + 100, NOW + 200):  # each round the previous lease has expired
            taken = await asyncio.gather(
                *(
                    replica.leases.take("work", f"r{i}-{j}", round_at, 30)
                    for i, replica in enumerate(replicas)
                    for j in range(5)
                )
            )
            assert sum(taken) == 1
    finally:
        for replica in replicas:
            await replica.close()
