"""A mock IdP's RSA 2048 key and self-signed certificate, and an impostor pair for a test fault.

pysaml2 and xmlsec1 read keys from files, so the pair always lives on disk: in `key_dir` when
given (`<name>.key` 0600 and `<name>.crt`, reused on restart so that an SP that cached the IdP
metadata keeps trusting it), otherwise in a private temporary directory that lives as long as the
app. The key is for tests only and says so in its file name (`...-TEST-ONLY`) and certificate.

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


class KeyStore:
    """The signing pair `name` (from `key_dir` or new) and a lazily made impostor pair; the
    certificates name `organisation`."""

    def __init__(self, key_dir: Path | None, name: str, organisation: str) -> None:
        self._temp = Path(tempfile.mkdtemp(prefix="mock-saml-idp-"))
        weakref.finalize(self, shutil.rmtree, self._temp, ignore_errors=True)
        self._name, self._organisation = name, organisation
        self.signing = load_or_create_pair(key_dir or self._temp, f"{name}-TEST-ONLY", organisation)
        self._impostor: KeyPair | None = None

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
