"""The SAML SP's key rollover (`sote-broker saml-keys add|activate|retire`), each step made by
another process, as a running connector sees it: which certificates the metadata publishes and
which key signs it, which key signs the AuthnRequest, and which keys decrypt an assertion.
Real keys, real XML signed and encrypted by the forge's `xmlsec1`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree

from broker.errors import ConfigError, UpstreamResponseError
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.redirect_binding import RedirectBindingError, decode
from broker.upstream.saml.sp import ServiceProvider, sp_metadata_xml
from broker.upstream.saml.sp_keys import INDEX_FILE, KeyPair, ServiceProviderKeys, SPKeyRing
from tests.read_only import read_only, writable
from tests.upstream.conftest import ACS_URL, SP_ENTITY_ID, begin_with_url, make_connector, posted
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import Forge

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture
def key_directory(saml_sp_keys: Path, tmp_path: Path) -> Path:
    """A copy of the session's first pair, so that each test starts before any rollover."""
    directory = tmp_path / "saml-keys"
    shutil.copytree(saml_sp_keys, directory)
    return directory


@pytest.fixture
def operator(key_directory: Path) -> SPKeyRing:
    """What `sote-broker saml-keys` opens: another process's view of the directory."""
    return SPKeyRing(key_directory)


@pytest.fixture
def running(key_directory: Path) -> ServiceProvider:
    """The running broker's SP, with its own ring."""
    return ServiceProvider(SP_ENTITY_ID, SPKeyRing(key_directory))


def ring_of(sp: ServiceProvider) -> SPKeyRing:
    assert isinstance(sp.key_source, SPKeyRing)
    return sp.key_source


def test_each_step_is_refused_out_of_turn_and_changes_nothing(operator: SPKeyRing) -> None:
    first = operator.keys.active
    with pytest.raises(ConfigError, match="no next key"):
        operator.activate()
    with pytest.raises(ConfigError, match="no previous key"):
        operator.retire()

    new = operator.add()
    with pytest.raises(ConfigError, match="already the next key"):
        operator.add()
    assert (operator.keys.active, operator.keys.next) == (first, new)

    operator.activate()
    assert (operator.keys.active, operator.keys.previous, operator.keys.next) == (new, first, None)
    for step in (operator.add, operator.activate):
        with pytest.raises(ConfigError, match="retire it first"):
            step()

    assert operator.retire() == first
    assert [role for role, _ in operator.keys.pairs()] == ["active"]
    assert not first.key_file.exists() and not first.cert_file.exists()
    assert new.key_file.stat().st_mode & 0o777 == 0o600
    operator.add()  # and the next rollover can begin


def test_a_running_broker_picks_up_a_step_made_by_another_process(
    operator: SPKeyRing, running: ServiceProvider
) -> None:
    ring = ring_of(running)
    before = running.keys
    assert ring.reload_if_changed() is False
    new = operator.add()
    assert running.keys == before  # until housekeeping looks
    assert ring.reload_if_changed() is True
    assert running.keys.next == new and running.keys.version != before.version
    assert ring.reload_if_changed() is False


def test_a_broker_started_on_an_index_has_nothing_to_reload(
    operator: SPKeyRing, key_directory: Path
) -> None:
    """The index as found at start is the state the ring knows: the first housekeeping round
    finds no change (and keeps what was built on the keys)."""
    new = operator.add()
    ring = SPKeyRing(key_directory)
    keys = ring.keys
    assert keys.next == new
    assert ring.reload_if_changed() is False
    assert ring.keys is keys


def test_a_step_made_while_the_broker_reads_its_keys_is_picked_up(
    operator: SPKeyRing, key_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`saml-keys add` run by another process just after a starting broker read the keys, and
    before it noted the index's state: the next housekeeping round must still see the change
    (noting the state after reading would take the new index for the one read, and keep
    serving the old keys until the next rollover step)."""
    load = ServiceProviderKeys.load_or_create
    added: list[KeyPair] = []

    def load_then_add(directory: Path, *, common_name: str) -> ServiceProviderKeys:
        keys = load(directory, common_name=common_name)
        added.append(operator.add())
        return keys

    monkeypatch.setattr(ServiceProviderKeys, "load_or_create", staticmethod(load_then_add))
    ring = SPKeyRing(key_directory)
    assert ring.keys.next is None and len(added) == 1
    assert ring.reload_if_changed() is True
    assert ring.keys.next == added[0]


def test_a_broken_index_keeps_the_running_keys(
    operator: SPKeyRing, running: ServiceProvider, key_directory: Path
) -> None:
    operator.add()
    ring_of(running).reload_if_changed()
    keys = running.keys
    (key_directory / INDEX_FILE).write_text('{"active": "../elsewhere"}')
    with pytest.raises(ConfigError, match="must name a key pair"):
        ring_of(running).reload_if_changed()
    assert running.keys == keys


def published(sp: ServiceProvider) -> tuple[dict[str, set[str]], bytes]:
    xml = sp_metadata_xml(SP_ENTITY_ID, ACS_URL, None, sp.keys)
    root = ElementTree.fromstring(xml)
    found: dict[str, set[str]] = {"signing": set(), "encryption": set()}
    for descriptor in root.iter(f"{MD}KeyDescriptor"):
        cert = descriptor.find(f".//{DS}X509Certificate")
        assert cert is not None and cert.text
        found[descriptor.get("use", "")].add("".join(cert.text.split()))
    return found, xml


def signed_by(xml: bytes, pair: KeyPair, tmp_path: Path) -> bool:
    """Whether xmlsec1 verifies the metadata's signature with `pair`'s certificate alone."""
    document = tmp_path / "metadata.xml"
    document.write_bytes(xml)
    xmlsec1 = shutil.which("xmlsec1")
    assert xmlsec1
    entity = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
    command = [xmlsec1, "--verify", "--pubkey-cert-pem", str(pair.cert_file)]
    command += ["--id-attr:ID", entity, "--enabled-key-data", "raw-x509-cert", str(document)]
    result = subprocess.run(
        command,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def test_the_metadata_publishes_every_pair_and_is_signed_by_the_active_one(
    operator: SPKeyRing, running: ServiceProvider, tmp_path: Path
) -> None:
    old = running.keys.active
    new = operator.add()
    ring_of(running).reload_if_changed()
    certs, xml = published(running)
    both = {old.cert_base64(), new.cert_base64()}
    assert certs == {"signing": both, "encryption": both}
    assert signed_by(xml, old, tmp_path) and not signed_by(xml, new, tmp_path)

    operator.activate()
    ring_of(running).reload_if_changed()
    certs, xml = published(running)
    assert certs == {"signing": both, "encryption": both}  # the old one still decrypts
    assert signed_by(xml, new, tmp_path) and not signed_by(xml, old, tmp_path)

    operator.retire()
    ring_of(running).reload_if_changed()
    certs, xml = published(running)
    assert certs == {"signing": {new.cert_base64()}, "encryption": {new.cert_base64()}}


async def login(connector: SAMLConnector, forge: Forge, encrypted_for: Path) -> str:
    """A whole login at `connector`, the IdP encrypting for `encrypted_for`; the AuthnRequest's
    query string is returned for its signature."""
    url, saved, statement = await begin_with_url(connector)
    idp = Forge(forge.key, encrypted_for, forge.impostor)
    identity = await connector.finish(posted(idp.genuine(statement)), saved)
    assert identity.subject
    return urlsplit(url).query


def signs_request(query: str, pair: KeyPair) -> bool:
    """Whether `pair` signed the HTTP-Redirect message in `query` (an AuthnRequest)."""
    try:
        decode(query).verify([pair.cert_base64()])
    except RedirectBindingError:
        return False
    return True


async def test_assertions_decrypt_with_any_published_pair_and_requests_are_signed_by_the_active(
    operator: SPKeyRing, running: ServiceProvider, forge: Forge, metadata: Path, tmp_path: Path
) -> None:
    connector = make_connector(running, metadata, Replays(), "suomifi")
    old = running.keys.active
    old_cert = shutil.copy(old.cert_file, tmp_path / "old.crt")  # an IdP's copy outlives retire
    query = await login(connector, forge, encrypted_for=old_cert)
    assert signs_request(query, old)

    new = operator.add()
    ring_of(running).reload_if_changed()
    # an IdP that already has the new metadata may encrypt for the new pair; nothing signs with it
    assert signs_request(await login(connector, forge, encrypted_for=new.cert_file), old)
    assert signs_request(await login(connector, forge, encrypted_for=old_cert), old)

    operator.activate()
    ring_of(running).reload_if_changed()
    query = await login(connector, forge, encrypted_for=old_cert)  # an IdP with the old metadata
    assert signs_request(query, new) and not signs_request(query, old)

    operator.retire()
    ring_of(running).reload_if_changed()
    await login(connector, forge, encrypted_for=new.cert_file)
    with pytest.raises(UpstreamResponseError):
        await login(connector, forge, encrypted_for=old_cert)


def test_a_read_only_key_mount_is_read_and_its_updates_followed(key_directory: Path) -> None:
    """The SP keys as a mounted secret shared by every replica: read without a lock file (none
    can be made there), and a rollover step the operator publishes by updating the mount is
    picked up."""
    for lock in key_directory.glob(".*lock"):
        lock.unlink()
    with read_only(key_directory):
        running = SPKeyRing(key_directory)
        assert running.reload_if_changed() is False
        with writable(key_directory):
            new = SPKeyRing(key_directory).add()
        assert running.reload_if_changed() is True
        assert running.keys.next == new
