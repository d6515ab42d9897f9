"""Personal data at rest: a fresh broker's data directory is its owner's only, the database's
`-wal` and `-shm` files included, and deleted rows do not linger in the database file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broker.app import create_app
from broker.clock import FrozenClock
from tests.brokers import make_settings
from tests.servers import bound_socket, serve


@pytest.fixture
def shared_umask() -> Iterator[None]:
    """The umask a service manager or a shell commonly gives (group and others may read)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def readable_by_others(data_dir: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = Path(root, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                found.append(f"{oct(mode)} {path.relative_to(data_dir)}")
    return found


@pytest.mark.usefixtures("shared_umask")
async def test_a_fresh_broker_makes_no_file_that_others_can_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    sock = bound_socket()
    settings = make_settings(data_dir, sock.getsockname()[1])  # keys made fresh, in data_dir
    with serve(create_app(settings, clock=FrozenClock()), sock) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(url + "/jwks")).status_code == 200
            refused = await http.get(url + "/authorize", params={"client_id": "nobody"})
            assert refused.status_code == 400
        files = {p.name for p in data_dir.rglob("*")}
        assert {"broker.db", "broker.db-wal", "broker.db-shm", "secret", "subject-key"} <= files
        assert list((data_dir / "keys").glob("*.json"))  # the signing keys
        assert readable_by_others(data_dir) == []
    assert readable_by_others(data_dir) == []
