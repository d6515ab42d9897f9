"""The broker's SAML SP key pair: an RSA 3072 key and a self-signed certificate, made on first
start into the key directory (0700; key 0600), loaded afterwards. One pair signs the AuthnRequests
and decrypts the assertions (both KeyDescriptors name it). pysaml2 and xmlsec1 read keys from
files, which is why the pair lives on disk. Blocking (RSA generation): call it at start-up or in a
thread.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from broker.errors import ConfigError
from broker.secret_files import directory_lock, write_atomically

__all__ = ["CERT_FILE", "KEY_FILE", "ServiceProviderKeys"]

RSA_KEY_SIZE: Final = 3072
KEY_FILE: Final = "saml-sp.key"
CERT_FILE: Final = "saml-sp.crt"
_LOCK_NAME: Final = ".saml-sp.lock"
_FILE_MODE: Final = 0o600
_VALIDITY: Final = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class ServiceProviderKeys:
    """Paths of the SP's PEM private key (0600) and its PEM self-signed certificate."""

    key_file: Path
    cert_file: Path

    @classmethod
    def load_or_create(
        cls, directory: Path, *, common_name: str = "sote-broker SAML SP"
    ) -> ServiceProviderKeys:
        """The pair in `directory`, made there first if missing. Several workers starting at once
        make one pair: the directory is locked while it is read or written."""
        directory = Path(directory)
        keys = cls(directory / KEY_FILE, directory / CERT_FILE)
        with directory_lock(directory, _LOCK_NAME):
            if not keys.key_file.exists():
                key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
                write_atomically(keys.key_file, _key_pem(key), _FILE_MODE)
                keys.cert_file.unlink(missing_ok=True)  # a stale one cannot match the new key
            if not keys.cert_file.exists():  # a crash after the key was written, or the above
                cert = _self_signed(keys.private_key(), common_name)
                write_atomically(
                    keys.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644
                )
            keys.check()
        return keys

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
