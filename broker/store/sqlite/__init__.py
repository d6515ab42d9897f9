"""The SQLite backend: `SQLiteStore(path)` is the store on one database file."""

from __future__ import annotations

from pathlib import Path

from broker.store.base import Store
from broker.store.sqlite.connection import SQLiteConnection

__all__ = ["SQLiteStore"]


class SQLiteStore(Store):
    """The store on one SQLite file; migrations are applied on open (the file is the broker's
    own, so there is no separate step)."""

    def __init__(self, path: Path) -> None:
        super().__init__(SQLiteConnection(path))
