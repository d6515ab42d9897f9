"""The signing keys' files: one 0600 JSON file per key in a 0700 directory (`<kid>.json`:
`kid`, `alg`, `created_at`, `activates_at`, `test` and the private `jwk`), what is read from one,
how a new key is made, and a snapshot of the directory to see what changed. The ring that
decides which key signs is `keys.py`."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

from joserfc.errors import JoseError
from joserfc.jwk import DictKey, ECKey, KeyParameters, RSAKey

from broker.errors import ConfigError
from broker.secret_files import ensure_private_directory, write_atomically

SigningKey: TypeAlias = RSAKey | ECKey
Snapshot: TypeAlias = dict[str, tuple[int, int, int]]
_T = TypeVar("_T")

SUPPORTED_ALGS: Final = ("RS256", "ES256")
RSA_KEY_SIZE: Final = 2048
"""The common interoperable RSA size; every relying-party library accepts it."""
EC_CURVE: Final = "P-256"
TEST_KID_PREFIX: Final = "test-"

FILE_MODE: Final = 0o600


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A loaded key with its imported objects, cached so that signing never touches the disk."""

    kid: str
    alg: str
    created_at: float
    activates_at: float
    test: bool
    private: SigningKey
    public: SigningKey
    public_jwk: DictKey

    @property
    def order(self) -> tuple[float, float, str]:
        return (self.activates_at, self.created_at, self.kid)


def new_entry(alg: str, *, created_at: float, activates_at: float, test: bool) -> KeyEntry:
    """Generate a key and name it by its thumbprint, so a kid can never be reused by another key."""
    params: KeyParameters = {"alg": alg, "use": "sig"}
    generated: SigningKey
    if alg == "RS256":
        generated = RSAKey.generate_key(RSA_KEY_SIZE, params)
    else:
        generated = ECKey.generate_key(EC_CURVE, params)
    kid = expected_kid(generated, test)
    jwk: dict[str, Any] = {**generated.as_dict(private=True), "kid": kid}
    return entry_from_jwk(
        jwk, kid=kid, alg=alg, created_at=created_at, activates_at=activates_at, test=test
    )


def expected_kid(key: SigningKey, test: bool) -> str:
    return (TEST_KID_PREFIX if test else "") + key.thumbprint()


def entry_from_jwk(
    jwk: dict[str, Any], *, kid: str, alg: str, created_at: float, activates_at: float, test: bool
) -> KeyEntry:
    """Import a private JWK and check it is the key its metadata claims; ValueError if not."""
    if any(not isinstance(value, str) for value in jwk.values()):
        raise ValueError("jwk members must be strings")
    if jwk.get("kid") != kid or jwk.get("alg") != alg or jwk.get("use") != "sig":
        raise ValueError("jwk kid, alg or use does not match the file")
    private: SigningKey
    public: SigningKey
    if alg == "RS256":
        if jwk.get("kty") != "RSA":
            raise ValueError("RS256 needs an RSA key")
        private = RSAKey.import_key(jwk)
        if private.raw_value.key_size < RSA_KEY_SIZE:
            raise ValueError(f"RSA key is shorter than {RSA_KEY_SIZE} bits")
        public = RSAKey.import_key(private.as_dict(private=False))
    else:
        if jwk.get("kty") != "EC" or jwk.get("crv") != EC_CURVE:
            raise ValueError(f"ES256 needs an EC {EC_CURVE} key")
        private = ECKey.import_key(jwk)
        public = ECKey.import_key(private.as_dict(private=False))
    if not private.is_private:
        raise ValueError("jwk has no private key")
    if expected_kid(private, test) != kid:
        raise ValueError("kid is not the key's RFC 7638 thumbprint")
    return KeyEntry(
        kid=kid,
        alg=alg,
        created_at=created_at,
        activates_at=activates_at,
        test=test,
        private=private,
        public=public,
        public_jwk=dict(public.as_dict(private=False)),
    )


# -- files -------------------------------------------------------------------------------------


def file_name(kid: str) -> str:
    return f"{kid}.json"


def scan(directory: Path) -> Snapshot:
    """Key file name -> (inode, mtime, size); temporary and lock files start with a dot."""
    snapshot: Snapshot = {}
    try:
        with os.scandir(directory) as it:
            for item in it:
                if item.name.startswith(".") or not item.name.endswith(".json"):
                    continue
                try:
                    st = item.stat()
                except FileNotFoundError:
                    continue
                snapshot[item.name] = (st.st_ino, st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        return {}
    except NotADirectoryError as err:
        raise ConfigError(f"{directory}: key directory is not a directory") from err
    return snapshot


def read_key_file(path: Path) -> KeyEntry:
    """Parse one key file; ConfigError naming the file for anything wrong with it."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: unreadable key file: {err}") from err
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        kid = field_of(data, "kid", str)
        if file_name(kid) != path.name:
            raise ValueError(f"kid {kid!r} does not match the file name")
        alg = check_alg(field_of(data, "alg", str))
        jwk = field_of(data, "jwk", dict)
        return entry_from_jwk(
            jwk,
            kid=kid,
            alg=alg,
            created_at=timestamp_of(data, "created_at"),
            activates_at=timestamp_of(data, "activates_at"),
            test=field_of(data, "test", bool),
        )
    except (ConfigError, ValueError, TypeError, KeyError, JoseError) as err:
        raise ConfigError(f"{path}: invalid key file: {err}") from err


def field_of(data: dict[str, Any], name: str, kind: type[_T]) -> _T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}")
    return value


def timestamp_of(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be epoch seconds")
    return float(value)


def write_key_file(directory: Path, entry: KeyEntry) -> None:
    """Write atomically with mode 0600: a crash leaves either no file or a complete one."""
    ensure_private_directory(directory)
    document = {
        "kid": entry.kid,
        "alg": entry.alg,
        "created_at": entry.created_at,
        "activates_at": entry.activates_at,
        "test": entry.test,
        "jwk": entry.private.as_dict(private=True),
    }
    data = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    write_atomically(directory / file_name(entry.kid), data, FILE_MODE)


# -- small checks ------------------------------------------------------------------------------


def check_alg(alg: str) -> str:
    if alg not in SUPPORTED_ALGS:
        raise ConfigError(f"unsupported signing algorithm {alg!r}; use one of {SUPPORTED_ALGS}")
    return alg
