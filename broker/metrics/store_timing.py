"""Every store operation timed in one place, whatever the backend: a proxy in front of the
store that the app hands to everything else. The store's own code is untouched, so a new
backend, aggregate or method is timed without a line here. The `operation` label is the
method's name, after its aggregate's (`accounts.find`, or `get_client` on the store itself):
a closed set, from the code."""

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
        elif _is_aggregate(found):
            found = _Timed(found, self._seconds, f"{self._prefix}{name}.")
        else:
            return found  # plain attributes are read anew each time
        self.__dict__[name] = found  # wrapped once
        return found


def _is_aggregate(value: object) -> bool:
    """A part of the store with async operations of its own (`store.accounts`)."""
    if callable(value) or isinstance(value, (str, bytes, int, float, type(None))):
        return False
    return any(
        inspect.iscoroutinefunction(getattr(type(value), name, None))
        for name in dir(type(value))
        if not name.startswith("_")
    )


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
