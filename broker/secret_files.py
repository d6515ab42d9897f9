"""Secrets the broker makes for itself on first start and keeps in files with mode 0600."""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from broker.errors import ConfigError

MIN_KEY_BYTES = 32


def load_or_create_keys(path: Path) -> list[bytes]:
    """Read the key file; create it with one fresh key (mode 0600) if it does not exist."""
    if not path.exists():
        create_key_file(path)
    return load_keys(path)


def create_key_file(path: Path) -> None:
    """A new key file with one random key, 0600; never over an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode() + "\n")


def load_keys(path: Path) -> list[bytes]:
    """The keys of a key file, one base64 key a line, each at least 32 bytes."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the key file ({exc.strerror})") from exc
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{path}: the secret file has no keys")
    try:
        keys = [base64.b64decode(line, validate=True) for line in lines]
    except ValueError as exc:
        raise ConfigError(f"{path}: each line must be a base64 key") from exc
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"{path}: line {number}: a key of {len(key)} bytes; at least {MIN_KEY_BYTES} "
                "random bytes expected"
            )
    return keys


DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def set_private_umask() -> None:
    """Every file the process creates from now on is its owner's only: the database with its
    `-wal` and `-shm` files, which SQLite creates with the umask's say, and any key file a
    library writes without a mode of its own. Files meant to be public set their mode explicitly."""
    os.umask(PRIVATE_UMASK)


def write_atomically(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """A crash leaves either no file or a complete one, with `mode` from the first byte; the
    rename is made durable, so a key that signed something cannot vanish in a crash."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ensure_private_directory(directory: Path) -> None:
    """Create a key directory 0700; an existing one is left as the operator set it."""
    try:
        directory.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: key directory is not a directory") from None
    else:
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask


@contextlib.contextmanager
def directory_lock(directory: Path, lock_name: str = ".lock") -> Iterator[None]:
    """An exclusive advisory lock on a key directory, so that processes starting together make
    one key between them, not one each."""
    ensure_private_directory(directory)
    fd = os.open(directory / lock_name, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# What creating a file in a read-only key directory fails with: a read-only mount (a Kubernetes
# Secret, a Docker secret, a volume mounted :ro), file modes, an immutable directory.
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def is_read_only(exc: OSError) -> bool:
    return exc.errno in _READ_ONLY


@contextlib.contextmanager
def reading_lock(directory: Path, lock_name: str = ".lock") -> Iterator[None]:
    """A shared lock for reading a key directory while no writer is mid-change. A directory
    this process cannot write in is read without it: a read-only mount has no writer here
    (its keys change by the mount being updated atomically)."""
    try:
        fd = os.open(directory / lock_name, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        if not is_read_only(exc):
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
