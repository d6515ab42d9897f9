"""The SAML SP's key files themselves (`sp_keys`): the first pair as made (RSA 3072, a
self-signed certificate for ten years, private files), a half-written pair mended, each kind of
unusable key, certificate or index refused by name, and the names and index a rollover writes.
test_sp_keys.py has the rollover as a running connector sees it."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from broker.errors import ConfigError
from broker.upstream.saml.sp_keys import (
    INDEX_FILE,
    KeyPair,
    ServiceProviderKeys,
    SPKeyRing,
)


@pytest.fixture
def key_directory(saml_sp_keys: Path, tmp_path: Path) -> Path:
    """A copy of the session's first pair (made by `ServiceProviderKeys.load_or_create`)."""
    directory = tmp_path / "saml-keys"
    shutil.copytree(saml_sp_keys, directory)
    return directory


def first_pair(directory: Path) -> KeyPair:
    return KeyPair.in_directory(directory, "saml-sp")


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def refusal(call: object) -> str:
    assert callable(call)
    with pytest.raises(ConfigError) as error:
        call()
    return str(error.value)


# -- the first pair --------------------------------------------------------------------------------


def test_the_first_pair_is_rsa_3072_self_signed_for_ten_years(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "keys"
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    keys = ServiceProviderKeys.load_or_create(directory, common_name="broker.test SP")
    after = datetime.datetime.now(datetime.UTC)
    pair = keys.active
    assert pair == first_pair(directory)
    assert (keys.next, keys.previous, keys.version) == (None, None, "")
    assert (keys.key_file, keys.cert_file) == (pair.key_file, pair.cert_file)
    assert pair.key_file.stat().st_mode & 0o777 == 0o600
    assert pair.cert_file.stat().st_mode & 0o777 == 0o644
    assert not (directory / INDEX_FILE).exists()
    assert keys.signing_key.key_size == 3072
    cert = pair.certificate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broker.test SP")])
    assert cert.subject == name and cert.issuer == name
    cert.verify_directly_issued_by(cert)  # self-signed
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    five_minutes = datetime.timedelta(minutes=5)
    assert before - five_minutes <= cert.not_valid_before_utc <= after - five_minutes
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert validity == datetime.timedelta(days=3650) + five_minutes
    pair.check()
    # loaded again, nothing is made anew
    assert ServiceProviderKeys.load_or_create(directory).active.cert_file.read_bytes() == (
        pair.cert_file.read_bytes()
    )


def test_the_certificate_is_dated_in_utc_whatever_the_hosts_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a host 14 hours ahead of UTC the certificate is still valid from five minutes ago
    (a local time taken for UTC would date it 14 hours into the future: IdPs would refuse it)."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        cert = ServiceProviderKeys.load_or_create(tmp_path / "keys").active.certificate()
        after = datetime.datetime.now(datetime.UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
    five_minutes = datetime.timedelta(minutes=5)
    assert before - five_minutes <= cert.not_valid_before_utc <= after - five_minutes


def test_the_default_common_name_names_the_broker(key_directory: Path) -> None:
    cert = first_pair(key_directory).certificate()
    assert cert.subject.rfc4514_string() == "CN=sote-broker SAML SP"


def test_what_an_idp_operator_compares(key_directory: Path) -> None:
    pair = first_pair(key_directory)
    der = pair.certificate().public_bytes(serialization.Encoding.DER)
    assert pair.fingerprint() == hashlib.sha256(der).hexdigest()
    assert pair.cert_base64() == base64.b64encode(der).decode()


def test_a_pair_cut_short_by_a_crash_is_mended(key_directory: Path) -> None:
    pair = first_pair(key_directory)
    key_pem = pair.key_file.read_bytes()
    pair.cert_file.unlink()  # the certificate was not written yet: made for the same key
    keys = ServiceProviderKeys.load_or_create(key_directory)
    assert keys.active.key_file.read_bytes() == key_pem
    keys.check()
    pair.key_file.unlink()  # a certificate without its key: both made anew
    stale = pair.cert_file.read_bytes()
    keys = ServiceProviderKeys.load_or_create(key_directory)
    assert keys.active.key_file.read_bytes() != key_pem
    assert keys.active.cert_file.read_bytes() != stale
    keys.check()


# -- what cannot be used -------------------------------------------------------------------------


def test_an_unusable_key_is_refused_by_name(key_directory: Path) -> None:
    pair = first_pair(key_directory)
    pair.key_file.write_bytes(b"not a key")
    assert refusal(pair.private_key).startswith(f"{pair.key_file}: unreadable SAML SP key (")
    pair.key_file.unlink()
    assert refusal(pair.private_key).startswith(f"{pair.key_file}: unreadable SAML SP key (")
    for key in (
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - refused
    ):
        pair.key_file.write_bytes(pem(key))
        assert refusal(pair.private_key) == (
            f"{pair.key_file}: the SAML SP key must be RSA, 2048 bits or more"
        )


def test_a_2048_bit_key_is_enough(key_directory: Path) -> None:
    pair = first_pair(key_directory)
    pair.key_file.write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    assert pair.private_key().key_size == 2048


def test_an_unusable_certificate_is_refused_by_name(key_directory: Path) -> None:
    pair = first_pair(key_directory)
    pair.cert_file.write_bytes(b"not a certificate")
    assert refusal(pair.certificate).startswith(
        f"{pair.cert_file}: unreadable SAML SP certificate ("
    )
    pair.cert_file.unlink()
    assert refusal(pair.certificate).startswith(f"{pair.cert_file}: unreadable SAML SP certificate")


def test_a_certificate_of_another_key_is_refused(key_directory: Path, tmp_path: Path) -> None:
    other = ServiceProviderKeys.load_or_create(tmp_path / "other").active
    pair = first_pair(key_directory)
    shutil.copy(other.cert_file, pair.cert_file)
    expected = f"{pair.cert_file}: certificate is not for saml-sp.key"
    assert refusal(pair.check) == expected
    assert refusal(lambda: ServiceProviderKeys.load_or_create(key_directory)) == expected


# -- the index -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "why"),
    [
        ("{", "unreadable SAML SP key index ("),
        ("[]", "unreadable SAML SP key index ("),
        ("{}", "'active' must name a key pair; others a name or null"),
        ('{"active": 1}', "'active' must name a key pair; others a name or null"),
        ('{"active": ""}', "'active' must name a key pair; others a name or null"),
        ('{"active": "../saml-sp"}', "'active' must name a key pair; others a name or null"),
        ('{"active": ".saml-sp"}', "'active' must name a key pair; others a name or null"),
        ('{"active": "saml-sp", "next": "a/b"}', "'active' must name"),
        ('{"active": "saml-sp", "previous": 2}', "'active' must name"),
    ],
    ids=["json", "not-object", "no-active", "number", "empty", "path", "hidden", "next", "prev"],
)
def test_a_broken_index_is_refused_by_name(key_directory: Path, index: str, why: str) -> None:
    (key_directory / INDEX_FILE).write_text(index)
    message = refusal(lambda: ServiceProviderKeys.load_or_create(key_directory))
    assert message.startswith(f"{key_directory / INDEX_FILE}: {why}")


def test_an_index_naming_the_first_pair_is_read_with_its_version(key_directory: Path) -> None:
    raw = b'{"active": "saml-sp", "next": null}'
    (key_directory / INDEX_FILE).write_bytes(raw)
    keys = ServiceProviderKeys.load_or_create(key_directory)
    assert keys.active == first_pair(key_directory) and keys.next is None
    assert keys.version == hashlib.sha256(raw).hexdigest()[:16]


def test_a_new_pair_is_named_by_its_certificate_and_the_index_is_private(
    key_directory: Path,
) -> None:
    ring = SPKeyRing(key_directory)
    new = ring.add()
    assert new.name == "saml-sp-" + new.fingerprint()[:12]
    assert new == KeyPair.in_directory(key_directory, new.name)
    assert new.key_file.stat().st_mode & 0o777 == 0o600
    assert new.cert_file.stat().st_mode & 0o777 == 0o644
    assert new.private_key().key_size == 3072
    new.check()
    index = key_directory / INDEX_FILE
    assert json.loads(index.read_text()) == {"active": "saml-sp", "next": new.name}
    assert index.stat().st_mode & 0o777 == 0o600
    assert list(ring.keys.pairs()) == [("active", first_pair(key_directory)), ("next", new)]
    assert ring.keys.others() == [new]
    ring.activate()
    assert ring.keys.others() == [first_pair(key_directory)]
    assert ring.keys.signing_key.private_numbers() == new.private_key().private_numbers()
    assert json.loads(index.read_text()) == {"active": new.name, "previous": "saml-sp"}


def test_each_rollover_step_out_of_turn_says_what_to_do(key_directory: Path) -> None:
    """What `sote-broker saml-keys` prints to the operator."""
    ring = SPKeyRing(key_directory)
    assert refusal(ring.activate) == "no next key to activate; add one first"
    assert refusal(ring.retire) == "no previous key to retire"
    new = ring.add()
    assert refusal(ring.add) == f"{new.name} is already the next key; activate it"
    ring.activate()
    still = "saml-sp is still the previous key; retire it first"
    assert (refusal(ring.add), refusal(ring.activate)) == (still, still)


def test_every_step_takes_the_one_lock_of_the_key_directory(key_directory: Path) -> None:
    """Workers starting together and `saml-keys` steps exclude each other only if they all
    lock the same file."""
    for lock in key_directory.glob(".*lock"):
        lock.unlink()
    ring = SPKeyRing(key_directory)
    ring.add()
    ring.activate()
    ring.retire()
    ring.reload_if_changed()
    assert sorted(p.name for p in key_directory.glob(".*lock")) == [".saml-sp.lock"]


def test_the_ring_makes_the_first_pair_with_its_common_name(tmp_path: Path) -> None:
    ring = SPKeyRing(tmp_path / "keys", common_name="broker.test SP")
    assert ring.keys.active.certificate().subject.rfc4514_string() == "CN=broker.test SP"
    # made under the directory's one lock, as every later step
    assert sorted(p.name for p in (tmp_path / "keys").glob(".*lock")) == [".saml-sp.lock"]
