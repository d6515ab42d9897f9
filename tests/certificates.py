"""Self-signed certificates for tests: one builder for every test that needs a key's certificate
of a given name and validity (an expired IdP key, an ECDSA metadata signer, a TLS server no
client trusts), so that each test says only what differs."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mock_idps.saml_common.keys import KeyPair

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def self_signed(
    key: PrivateKey,
    common_name: str,
    *,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """`key`'s certificate, issued by itself to `common_name`; valid from a day ago for two days
    unless told otherwise."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def write_pair(
    directory: Path, stem: str, key: PrivateKey, certificate: x509.Certificate
) -> KeyPair:
    """The key (PKCS#8) and certificate as PEM files `stem.key` and `stem.crt`."""
    pair = KeyPair(key_file=directory / f"{stem}.key", cert_file=directory / f"{stem}.crt")
    pair.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return pair
