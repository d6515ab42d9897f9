"""What every upstream connector's `start` hands the journey and reads back in `finish`: the
redirect, and the JSON-friendly login state kept in the login transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from broker.errors import TransactionError


@dataclass(frozen=True)
class UpstreamRedirect:
    url: str  # where to send the browser
    saved: dict[str, Any]  # JSON-friendly; the journey stores it in the login transaction


def as_json(saved: Any) -> dict[str, Any]:
    """A connector's saved-state dataclass as JSON (tuples become lists)."""
    data: dict[str, Any] = asdict(saved)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def requested_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the portal asked of the login (prompt, max_age, acr_values) and when it started;
    raises KeyError, TypeError or ValueError on malformed state (see `reading_saved`)."""
    return {
        "prompt": tuple(str(p) for p in data["prompt"]),
        "max_age": None if data["max_age"] is None else int(data["max_age"]),
        "acr_values": tuple(str(a) for a in data["acr_values"]),
        "started_at": float(data["started_at"]),
    }


@contextmanager
def reading_saved(idp_id: str) -> Iterator[None]:
    """Malformed saved state is a broken transaction, not a crash."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise TransactionError(f"{idp_id}: saved upstream login state is malformed") from exc


def check_owner(saved_idp: str, idp_id: str) -> None:
    if saved_idp != idp_id:
        raise TransactionError(f"{idp_id}: saved upstream login state is for {saved_idp}")
