"""The broker's SAML SP key pairs, and their rollover without a gap.

Each pair is an RSA 3072 key (0600) and a self-signed certificate, in the key directory (0700),
named `<name>.key` / `<name>.crt` and never rewritten. The first pair, made on first start, is
`saml-sp`; later ones are `saml-sp-<first 12 hex digits of the certificate's SHA-256>`. The index
`saml-sp-keys.json` (written atomically, under the directory lock) says which pair is which:

    active     signs the AuthnRequests, LogoutRequests and the SP metadata
    next       added by `sote-broker saml-keys add`: published in the metadata (signing and
               encryption) and decrypts, but does not sign yet, until every IdP has the new
               metadata; `saml-keys activate` makes it active
    previous   the active pair before `activate`: still published and still decrypts, for an IdP
               that encrypts with the old certificate until it has the new metadata;
               `saml-keys retire` removes it (and its files)

Every pair in the index is published and decrypts; only one signs. Without an index the
directory holds the single `saml-sp` pair (as before rollover existed). A running broker picks a
changed index up on its next housekeeping round (`SPKeyRing.reload_if_changed`), so a rollover
needs no restart. pysaml2 and xmlsec1 read keys from files, which is why the pairs live on disk.
Blocking (RSA generation, file reads): call it at start-up, from the CLI, or in a thread.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final, Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from broker.errors import ConfigError
from broker.secret_files import directory_lock, reading_lock, write_atomically

__all__ = [
    "CERT_FILE",
    "FIRST_PAIR",
    "INDEX_FILE",
    "KEY_FILE",
    "KeyPair",
    "KeyRole",
    "SPKeyRing",
    "ServiceProviderKeys",
]

KeyRole: TypeAlias = Literal["active", "next", "previous"]

RSA_KEY_SIZE: Final = 3072
FIRST_PAIR: Final = "saml-sp"
KEY_FILE: Final = FIRST_PAIR + ".key"
CERT_FILE: Final = FIRST_PAIR + ".crt"
INDEX_FILE: Final = "saml-sp-keys.json"
COMMON_NAME: Final = "sote-broker SAML SP"
_ROLES: Final[tuple[KeyRole, ...]] = ("active", "next", "previous")
_LOCK_NAME: Final = ".saml-sp.lock"
_FILE_MODE: Final = 0o600
_VALIDITY: Final = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class KeyPair:
    """One pair's files; `name` is the file stem."""

    name: str
    key_file: Path
    cert_file: Path

    @classmethod
    def in_directory(cls, directory: Path, name: str) -> KeyPair:
        return cls(name, directory / f"{name}.key", directory / f"{name}.crt")

    def private_key(self) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{self.key_file}: unreadable SAML SP key ({exc})") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ConfigError(f"{self.key_file}: the SAML SP key must be RSA, 2048 bits or more")
        return key

    def certificate(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.cert_file}: unreadable SAML SP certificate ({exc})") from exc

    def check(self) -> None:
        """ConfigError unless the certificate is the private key's."""
        public = self.private_key().public_key().public_numbers()
        if self.certificate().public_key().public_numbers() != public:  # type: ignore[union-attr]
            raise ConfigError(f"{self.cert_file}: certificate is not for {self.key_file.name}")

    def cert_base64(self) -> str:
        """The certificate body without PEM armour, as in ds:X509Certificate."""
        lines = self.cert_file.read_text(encoding="ascii").strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), hex: what an IdP operator compares."""
        der = self.certificate().public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class ServiceProviderKeys:
    """The SP's pairs at one moment. `key_file` / `cert_file` are the active pair's."""

    active: KeyPair
    next: KeyPair | None = None
    previous: KeyPair | None = None
    version: str = field(default="", compare=False)
    """Changes whenever the index does: what was built on the keys is rebuilt then."""

    @classmethod
    def load_or_create(
        cls, directory: Path, *, common_name: str = COMMON_NAME
    ) -> ServiceProviderKeys:
        """The pairs in `directory`; the first pair is made there first if missing. Several
        workers starting at once make one pair: the directory is locked meanwhile."""
        directory = Path(directory)
        first = KeyPair.in_directory(directory, FIRST_PAIR)
        if (directory / INDEX_FILE).exists() or (
            first.key_file.exists() and first.cert_file.exists()
        ):
            with reading_lock(directory, _LOCK_NAME):  # nothing to make: may be a read-only mount
                return _read(directory)
        with directory_lock(directory, _LOCK_NAME):
            if not (directory / INDEX_FILE).exists():
                _ensure_pair(first, common_name)
            return _read(directory)

    @property
    def key_file(self) -> Path:
        return self.active.key_file

    @property
    def cert_file(self) -> Path:
        return self.active.cert_file

    def pairs(self) -> Iterator[tuple[KeyRole, KeyPair]]:
        """Every pair with its role: all are published and decrypt."""
        for role in _ROLES:
            pair = getattr(self, role)
            if pair is not None:
                yield role, pair

    def others(self) -> list[KeyPair]:
        """The published pairs that do not sign."""
        return [pair for role, pair in self.pairs() if role != "active"]

    @cached_property
    def signing_key(self) -> rsa.RSAPrivateKey:
        """The active private key, read once per key set (loading checks the RSA key, slowly)."""
        return self.active.private_key()

    def check(self) -> None:
        for _, pair in self.pairs():
            pair.check()


class SPKeyRing:
    """The key directory as the running broker sees it: the current `ServiceProviderKeys`,
    re-read when the index changes (another process ran `saml-keys`)."""

    def __init__(self, directory: Path, *, common_name: str = COMMON_NAME) -> None:
        self.directory = Path(directory)
        self._common_name = common_name
        # the index's state before reading it: a step made meanwhile is then seen as a change
        self._stamp = _index_stamp(self.directory)
        self._keys = ServiceProviderKeys.load_or_create(self.directory, common_name=common_name)

    @property
    def keys(self) -> ServiceProviderKeys:
        return self._keys

    def reload_if_changed(self) -> bool:
        """True if the index changed and the new pairs were loaded (a cheap stat otherwise).
        An unreadable new state keeps the old one and raises ConfigError."""
        stamp = _index_stamp(self.directory)
        if stamp == self._stamp:
            return False
        with reading_lock(self.directory, _LOCK_NAME):
            keys = _read(self.directory)
        self._keys, self._stamp = keys, stamp
        return True

    # -- the rollover steps (the CLI's `saml-keys`) -------------------------------------------
    def add(self) -> KeyPair:
        """A new pair as `next`: published and decrypting, not signing."""
        with directory_lock(self.directory, _LOCK_NAME):
            keys = _read(self.directory)
            if keys.next is not None:
                raise ConfigError(f"{keys.next.name} is already the next key; activate it")
            if keys.previous is not None:
                raise ConfigError(
                    f"{keys.previous.name} is still the previous key; retire it first"
                )
            pair = _new_pair(self.directory, self._common_name)
            _write_index(self.directory, ServiceProviderKeys(keys.active, next=pair))
        self.reload_if_changed()
        return pair

    def activate(self) -> KeyPair:
        """The next pair signs from now on; the active one becomes previous (still decrypts)."""
        with directory_lock(self.directory, _LOCK_NAME):
            keys = _read(self.directory)
            if keys.previous is not None:
                raise ConfigError(
                    f"{keys.previous.name} is still the previous key; retire it first"
                )
            if keys.next is None:
                raise ConfigError("no next key to activate; add one first")
            _write_index(self.directory, ServiceProviderKeys(keys.next, previous=keys.active))
        self.reload_if_changed()
        return keys.next

    def retire(self) -> KeyPair:
        """The previous pair is no longer published and no longer decrypts; its files go."""
        with directory_lock(self.directory, _LOCK_NAME):
            keys = _read(self.directory)
            if keys.previous is None:
                raise ConfigError("no previous key to retire")
            _write_index(self.directory, ServiceProviderKeys(keys.active, next=keys.next))
            keys.previous.key_file.unlink(missing_ok=True)
            keys.previous.cert_file.unlink(missing_ok=True)
        self.reload_if_changed()
        return keys.previous


def _read(directory: Path) -> ServiceProviderKeys:
    """The index's pairs (or the single first pair without an index), each checked."""
    index_path = directory / INDEX_FILE
    if not index_path.exists():
        keys = ServiceProviderKeys(KeyPair.in_directory(directory, FIRST_PAIR), version="")
        keys.check()
        return keys
    try:
        raw = index_path.read_bytes()
        index = json.loads(raw)
        names = {role: index.get(role) for role in _ROLES}
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{index_path}: unreadable SAML SP key index ({exc})") from exc
    if not isinstance(names["active"], str) or not all(
        n is None or (isinstance(n, str) and _plain_name(n)) for n in names.values()
    ):
        raise ConfigError(f"{index_path}: 'active' must name a key pair; others a name or null")
    pairs = {
        role: KeyPair.in_directory(directory, name) if isinstance(name, str) else None
        for role, name in names.items()
    }
    keys = ServiceProviderKeys(
        pairs["active"] or KeyPair.in_directory(directory, FIRST_PAIR),
        next=pairs["next"],
        previous=pairs["previous"],
        version=hashlib.sha256(raw).hexdigest()[:16],
    )
    keys.check()
    return keys


def _plain_name(name: str) -> bool:
    return bool(name) and name.replace("-", "").isalnum() and not name.startswith(".")


def _write_index(directory: Path, keys: ServiceProviderKeys) -> None:
    index = {role: pair.name for role, pair in keys.pairs()}
    data = json.dumps(index, indent=2, sort_keys=True).encode() + b"\n"
    write_atomically(directory / INDEX_FILE, data, _FILE_MODE)


def _index_stamp(directory: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(directory / INDEX_FILE)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _ensure_pair(pair: KeyPair, common_name: str) -> None:
    """The pair's files, made if missing (a crash between the two writes is mended here)."""
    if not pair.key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
        write_atomically(pair.key_file, _key_pem(key), _FILE_MODE)
        pair.cert_file.unlink(missing_ok=True)  # a stale one cannot match the new key
    if not pair.cert_file.exists():
        cert = _self_signed(pair.private_key(), common_name)
        write_atomically(pair.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _new_pair(directory: Path, common_name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    cert = _self_signed(key, common_name)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    pair = KeyPair.in_directory(directory, f"{FIRST_PAIR}-{digest[:12]}")
    write_atomically(pair.key_file, _key_pem(key), _FILE_MODE)
    write_atomically(pair.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """SAML trusts the certificate in the metadata as it is: no CA is needed (SAML2 Metadata
    Interoperability profile); ten years, since rotation goes through the IdP operator."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .sign(key, hashes.SHA256())
    )
