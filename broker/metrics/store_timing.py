"""Every store operation timed in one place, whatever the backend: a proxy in front of the
store that the app hands to everything else. The store's own code is untouched, so a new
backend or a new method is timed without a line here; the `operation` label is the method's
name (`accounts.` before the account store's), a closed set."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from prometheus_client import Histogram

from broker.store.base import Store

__all__ = ["timed_store"]


def timed_store(store: Store, seconds: Histogram) -> Store:
    """`store` with every coroutine method (and the account store's) observed in `seconds`."""
    return cast(Store, _Timed(store, seconds, ""))


class _Timed:
    def __init__(self, inner: object, seconds: Histogram, prefix: str) -> None:
        self._inner = inner
        self._seconds = seconds
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name.startswith("_"):
            return found
        if inspect.iscoroutinefunction(found):
            found = _timed(found, self._seconds.labels(self._prefix + name))
        elif name == "accounts":
            found = _Timed(found, self._seconds, "accounts.")
        else:
            return found  # plain attributes are read anew each time
        self.__dict__[name] = found  # wrapped once
        return found


def _timed(
    method: Callable[..., Awaitable[Any]], observe: Histogram
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            observe.observe(time.perf_counter() - started)

    return timed
