"""Versioned SQL migrations, one file per version: `NNNN_name.sql`, applied in order once."""

from __future__ import annotations

from importlib import resources


def load(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration of the dialect, in order."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append((int(version), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found)
