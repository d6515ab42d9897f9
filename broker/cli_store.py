"""The store as a CLI command uses it: opened (migrations applied), used, closed again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from broker.assembly import make_store
from broker.settings import Settings
from broker.store.base import Store

__all__ = ["opened_store", "run_with_store"]

_T = TypeVar("_T")


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    store = make_store(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def run_with_store(settings: Settings, work: Callable[[Store], Awaitable[_T]]) -> _T:
    """`work` on the opened store, in an event loop of its own (a command is synchronous)."""

    async def run() -> _T:
        async with opened_store(settings) as store:
            return await work(store)

    return asyncio.run(run())
