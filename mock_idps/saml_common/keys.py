"""A mock IdP's RSA 2048 keys and self-signed certificates: the pair that signs its messages, the
pair that signs its metadata, the pairs of a signing-key rollover, and an impostor pair for a test
fault.

pysaml2 and xmlsec1 read keys from files, so the pair always lives on disk: in `key_dir` when
given (`<name>.key` 0600 and `<name>.crt`, reused on restart so that an SP that cached the IdP
metadata keeps trusting it), otherwise in a private temporary directory that lives as long as the
app. The key is for tests only and says so in its file name (`...-TEST-ONLY`) and certificate.

The metadata signing pair (`<name>-metadata-TEST-ONLY`, also in `key_dir`) is apart from the
message signing pair, as Suomi.fi's is: an SP configures its certificate once, and the IdP can
roll its message signing key by publishing new metadata (`KeyStore.roll`). Keys made by a rollover
live in the temporary directory: a restarted mock starts again from its `key_dir` pair.

The impostor pair (the `signed_by_other_key` fault) is made on first use and published nowhere.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class KeyPair:
    """Paths of a PEM private key and its PEM certificate."""

    key_file: Path
    cert_file: Path

    def cert_pem(self) -> str:
        return self.cert_file.read_text(encoding="ascii")

    def cert_base64(self) -> str:
        """The certificate body without PEM armour, as it goes into ds:X509Certificate."""
        lines = self.cert_pem().strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))


ROLLOVER_STEPS = ("publish", "switch", "retire")


class RolloverError(ValueError):
    """A rollover step out of order (publish, switch, retire, then publish again)."""


class KeyStore:
    """The signing pair `name` (from `key_dir` or new), the metadata signing pair, the signing
    certificates the metadata publishes, and a lazily made impostor pair; the certificates name
    `organisation`."""

    def __init__(self, key_dir: Path | None, name: str, organisation: str) -> None:
        self._temp = Path(tempfile.mkdtemp(prefix="mock-saml-idp-"))
        weakref.finalize(self, shutil.rmtree, self._temp, ignore_errors=True)
        self._name, self._organisation = name, organisation
        self._dir = key_dir or self._temp
        self.signing = load_or_create_pair(self._dir, f"{name}-TEST-ONLY", organisation)
        self.published: tuple[KeyPair, ...] = (self.signing,)
        """The signing certificates in the metadata: two during a rollover."""
        self.retired: KeyPair | None = None
        """The pair the last rollover retired (for the `signed_by_retired_key` fault)."""
        self._impostor: KeyPair | None = None
        self._metadata_signing: KeyPair | None = None
        self._rolled = 0

    @property
    def metadata_signing(self) -> KeyPair:
        if self._metadata_signing is None:
            name = f"{self._name}-metadata-TEST-ONLY"
            self._metadata_signing = load_or_create_pair(self._dir, name, self._organisation)
        return self._metadata_signing

    def roll(self, step: str) -> None:
        """One step of a signing-key rollover, as an IdP makes it so that SPs that refresh its
        metadata never see a message signed by a key they do not know: `publish` a new key next
        to the current one (the current still signs), `switch` to signing with the new one
        (both still published), `retire` the old one (published no more)."""
        expected = self._next_step()
        if step != expected:
            raise RolloverError(f"the next rollover step is {expected!r}, not {step!r}")
        if step == "publish":
            self._rolled += 1
            name = f"{self._name}-rolled-{self._rolled}-TEST-ONLY"
            new = load_or_create_pair(self._temp, name, self._organisation)
            self.published = (self.signing, new)
        elif step == "switch":
            self.signing = self.published[1]
        else:
            self.retired = self.published[0]
            self.published = (self.signing,)

    def _next_step(self) -> str:
        if len(self.published) == 1:
            return "publish"
        return "switch" if self.signing is self.published[0] else "retire"

    @property
    def impostor(self) -> KeyPair:
        if self._impostor is None:
            name = f"{self._name}-impostor-TEST-ONLY"
            self._impostor = load_or_create_pair(self._temp, name, self._organisation)
        return self._impostor


def load_or_create_pair(directory: Path, name: str, organisation: str = "MOCK IdP") -> KeyPair:
    """`directory/name.key` (0600) and `name.crt`: read if both exist, otherwise made anew."""
    pair = KeyPair(directory / f"{name}.key", directory / f"{name}.crt")
    if pair.key_file.exists() and pair.cert_file.exists():
        return pair
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(pair.key_file, key_pem)
    cert = _self_signed(key, name, organisation)
    pair.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _self_signed(key: rsa.RSAPrivateKey, name: str, organisation: str) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .sign(key, hashes.SHA256())
    )
