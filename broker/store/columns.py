"""How structured values are kept in a column: JSON text, the same on every backend."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dump", "load", "strings"]


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def load(text: str) -> Any:
    return json.loads(text)


def strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))
