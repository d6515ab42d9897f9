"""Secrets the broker makes for itself on first start and keeps in files with mode 0600."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from broker.errors import ConfigError


def load_or_create_keys(path: Path) -> list[bytes]:
    """Read the key file; create it with one fresh key (mode 0600) if it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{path}: the secret file has no keys")
    try:
        return [base64.b64decode(line, validate=True) for line in lines]
    except ValueError as exc:
        raise ConfigError(f"{path}: each line must be a base64 key") from exc
