"""The broker's own secrets, the cookie keys and the subject key, and when they may be made.

The subject key turns an upstream identity into every pairwise `sub`, account link hash,
identity-code hash and sealed identity code: a new one makes returning people strangers (and
duplicate accounts). So in production a missing key file is made only where nothing can have
depended on the old one, an empty store, or by an explicit `sote-broker init`; otherwise start-up
stops naming the file (a replica without its volume, a restore from an old backup). The cookie
keys follow the same rule, so that replicas never each sign with a key of their own.
Development makes both whenever they are missing, for the mocks and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.errors import ConfigError
from broker.secret_files import create_key_file, load_keys, load_or_create_keys
from broker.settings import Settings
from broker.store.base import Store


@dataclass(frozen=True)
class InstanceSecrets:
    cookie_keys: list[bytes]
    subject_key: bytes


def key_files(settings: Settings) -> dict[str, Path]:
    """The settings key of each secret file, and the file."""
    return {"subject_key_file": settings.subject_key_file, "secret_file": settings.secret_file}


async def open_secrets(settings: Settings, store: Store) -> InstanceSecrets:
    """The secrets at start-up; in production a missing file is made only on an empty store."""
    if settings.development:
        return InstanceSecrets(
            load_or_create_keys(settings.secret_file),
            load_or_create_keys(settings.subject_key_file)[0],
        )
    for path in await check_secrets(settings, store):
        create_key_file(path)
    return InstanceSecrets(load_keys(settings.secret_file), load_keys(settings.subject_key_file)[0])


async def check_secrets(settings: Settings, store: Store) -> list[Path]:
    """Production: the key files present are valid, and a missing one may be made (the store
    is empty); returns the missing ones. `check-config` asks the same as start-up."""
    present = [p for p in key_files(settings).values() if p.exists()]
    for path in present:
        load_keys(path)
    missing = {key: path for key, path in key_files(settings).items() if not path.exists()}
    if missing and await store.holds_identities():
        key, path = next(iter(missing.items()))
        raise ConfigError(
            f"{path}: {key}: the file is missing, but the store already holds accounts, "
            "sessions or grants made with the old key. Restore the file from the backup "
            "(the same file on every replica); a new key would change every portal's sub and "
            "every account link. Only if it is truly lost: sote-broker init --new-keys"
        )
    return list(missing.values())


def subject_key(settings: Settings) -> bytes:
    """The subject key for a CLI command: made if missing only in development."""
    path = settings.subject_key_file
    return (load_or_create_keys(path) if settings.development else load_keys(path))[0]


async def init_secrets(settings: Settings, store: Store, *, new_keys: bool) -> list[Path]:
    """`sote-broker init`: make the missing key files (an existing one is never replaced);
    on a store that holds identities only with `new_keys`, the operator's word that the old
    subject key is lost. Returns the files made."""
    missing = [path for path in key_files(settings).values() if not path.exists()]
    if missing and not new_keys and await store.holds_identities():
        raise ConfigError(
            f"{missing[0]}: missing, and the store holds accounts, sessions or grants made with "
            "the old key: restore it from the backup, or (if it is lost) run init --new-keys, "
            "which changes every portal's sub and every account link"
        )
    for path in missing:
        create_key_file(path)
    for path in key_files(settings).values():
        load_keys(path)  # and check what was there
    return missing
