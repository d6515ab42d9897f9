"""`SAMLService` without HTTP: the signed SP metadata is made once per key set and again after a
rollover step, and `reload_keys` picks up what `sote-broker saml-keys` wrote (the index naming
the pairs), over a real key directory."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from broker.journey.logout import SPSigner
from broker.journey.saml_service import SAMLService
from broker.journey.upstreams import SAMLContext
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saml.sp_keys import INDEX_FILE, KeyPair, ServiceProviderKeys, SPKeyRing
from tests.upstream.conftest import ACS_URL, SP_ENTITY_ID
from tests.upstream.saml.replays import Replays


@pytest.fixture(scope="session")
def next_pair(saml_sp_keys: Path, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A second SP key pair, as `sote-broker saml-keys add` makes it (made once per run)."""
    directory = tmp_path_factory.mktemp("saml-sp-rollover") / "keys"
    shutil.copytree(saml_sp_keys, directory)
    return SPKeyRing(directory).add()


@pytest.fixture
def key_directory(saml_sp_keys: Path, next_pair: KeyPair, tmp_path: Path) -> Path:
    """The SP's key directory with its one first pair, and the next pair's files beside it
    (published only once the index names it)."""
    directory = tmp_path / "keys"
    shutil.copytree(saml_sp_keys, directory)
    shutil.copy(next_pair.key_file, directory)
    shutil.copy(next_pair.cert_file, directory)
    return directory


def rollover_step(directory: Path, **roles: str) -> None:
    """What a `saml-keys` step writes: the index naming each role's pair."""
    (directory / INDEX_FILE).write_text(json.dumps(roles))


class Describe:
    """The SP metadata as `broker.assembly.saml` signs it, here a text naming the key set."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, sp: ServiceProvider) -> bytes:
        self.calls.append(sp.keys.version)
        return f"metadata of {sp.keys.active.name} ({sp.keys.version})".encode()


def service_over(sp: ServiceProvider, describe: Describe) -> SAMLService:
    return SAMLService(SAMLContext(sp, ACS_URL, Replays()), describe)


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    name = "broker.journey.saml_service"
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == name]


async def test_the_metadata_is_signed_once_per_key_set(
    key_directory: Path, next_pair: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    sp = ServiceProvider.load(SP_ENTITY_ID, key_directory)
    describe = Describe()
    service = service_over(sp, describe)
    assert (service.sp, service.signer, service.context.acs_url) == (sp, SPSigner(sp), ACS_URL)
    assert await service.metadata() == b"metadata of saml-sp ()"
    assert await service.metadata() == b"metadata of saml-sp ()"
    assert describe.calls == [""]

    rollover_step(key_directory, active="saml-sp", next=next_pair.name)
    assert await service.metadata() == b"metadata of saml-sp ()"  # until housekeeping reloads
    with caplog.at_level(logging.INFO, "broker.journey.saml_service"):
        assert await service.reload_keys() is True
        assert await service.reload_keys() is False
    assert records(caplog) == [
        ("INFO", f"SAML SP keys changed: active saml-sp, next {next_pair.name}")
    ]
    version = sp.keys.version
    assert len(version) == 16
    expected = f"metadata of saml-sp ({version})".encode()
    assert await service.metadata() == expected
    assert await service.metadata() == expected
    assert describe.calls == ["", version]


async def test_after_activation_single_logout_signs_with_the_new_key(
    key_directory: Path, next_pair: KeyPair
) -> None:
    sp = ServiceProvider.load(SP_ENTITY_ID, key_directory)
    service = service_over(sp, Describe())
    first = service.signer.key.public_key().public_numbers()
    assert service.signer.entity_id == SP_ENTITY_ID
    rollover_step(key_directory, active=next_pair.name, previous="saml-sp")
    assert await service.reload_keys() is True
    new = next_pair.private_key().public_key().public_numbers()
    assert service.signer.key.public_key().public_numbers() == new != first
    assert await service.metadata() == f"metadata of {next_pair.name} ({sp.keys.version})".encode()


async def test_keys_not_read_from_a_directory_never_change(saml_sp_keys: Path) -> None:
    fixed = ServiceProvider(SP_ENTITY_ID, ServiceProviderKeys.load_or_create(saml_sp_keys))
    assert await service_over(fixed, Describe()).reload_keys() is False
