"""A directory made read-only the way a mounted secret is (a Kubernetes Secret, a Docker secret,
a volume mounted :ro): nothing in it can be created, deleted or opened for writing. Root is not
stopped by file modes, so as root the directory and its files are made immutable (chattr +i)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _chattr(flag: str, directory: Path) -> None:
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.fail("running as root, chattr is needed to make a directory read-only")
    subprocess.run([chattr, "-R", flag, str(directory)], check=True, capture_output=True)


def _set(directory: Path, read_only: bool) -> None:
    if os.geteuid() == 0:
        _chattr("+i" if read_only else "-i", directory)
        return
    for path in [directory, *directory.iterdir()]:
        path.chmod(0o500 if read_only and path.is_dir() else 0o400 if read_only else 0o700)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """The block runs with `directory` read-only (checked), writable again after it."""
    _set(directory, True)
    try:
        with pytest.raises(OSError):
            (directory / ".probe").touch()
        yield
    finally:
        _set(directory, False)


@contextlib.contextmanager
def writable(directory: Path) -> Iterator[None]:
    """The operator updating the mount: writable for the block, read-only again after it."""
    _set(directory, False)
    try:
        yield
    finally:
        _set(directory, True)
