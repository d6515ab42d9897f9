"""Small helpers shared by the benchmarks: summaries of repeated runs, machine facts."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median and min-max of per-run figures; the spread is what noise looks like here."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@contextlib.contextmanager
def stoppable() -> Iterator[None]:
    """SIGTERM and SIGINT unwind through the caller's `finally` blocks (SIGINT even where a
    shell started us with it ignored), so servers a benchmark started are stopped however this
    process is stopped; afterwards the signal handlers and the CPU affinity are as they were."""
    affinity = os.sched_getaffinity(0)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, _interrupted)
    try:
        yield
    finally:
        os.sched_setaffinity(0, affinity)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def machine() -> dict[str, Any]:
    cpus = os.cpu_count()
    allowed: int | None
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        allowed = cpus
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = (float("nan"),) * 3
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": cpus,
        "cpus_allowed": allowed,
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def fmt_range(s: dict[str, float], digits: int = 0) -> str:
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def show(result: dict[str, Any], report: Callable[[dict[str, Any]], str], as_json: bool) -> None:
    """A benchmark run on its own (`python -m bench.NAME`): its figures and the machine's
    facts, as the report's text or as JSON."""
    result["machine"] = machine()
    print(json.dumps(result, indent=2) if as_json else report(result))
