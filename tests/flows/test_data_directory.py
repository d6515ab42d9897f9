"""The SQLite store's data directory full or unusable, for real, in a broker process: start-up
stops with a message naming the path (no traceback); a disk that fills up under a running
broker gives 503 pages, never a 500, and the broker recovers once there is room again.

"Full" is the kernel's file-size limit (RLIMIT_FSIZE) on the broker process: every write
that would grow a file fails with EFBIG, as writes on a full disk fail with ENOSPC."""

from __future__ import annotations

import resource
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.flows.test_logs_and_cli import cli, free_port
from tests.portal_client import REDIRECT_URI
from tests.processes import refused_start, serve_process
from tests.worlds import idp_configs_for


def write_config(tmp_path: Path, data: Path, port: int = 9) -> Path:
    """A development broker keeping its SQLite file in `data` (IdPs configured, never asked)."""
    settings: dict[str, Any] = {
        "mode": "development",
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "secret_file": str(tmp_path / "secret"),
        "subject_key_file": str(tmp_path / "subject-key"),
        "store": {"sqlite_path": str(data / "broker.db")},
        "keys": {"directory": str(tmp_path / "keys"), "publish_lead_seconds": 0},
        "idp_configs": str(idp_configs_for("http://127.0.0.1:9", tmp_path / "idp_configs")),
        "housekeeping_seconds": 0.2,
    }
    path = tmp_path / "broker.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_data_directory_that_cannot_be_made_stops_start_up_naming_it(
    tmp_path: Path, broker_keys: Path
) -> None:
    shutil.copytree(broker_keys, tmp_path / "keys")
    (tmp_path / "var").write_text("a file where the data directory should be\n")
    refused = cli(write_config(tmp_path, tmp_path / "var" / "data"), "serve", check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"cannot open SQLite store at {tmp_path / 'var' / 'data' / 'broker.db'}" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr


def no_room() -> None:
    """In the broker process before it starts: no file may grow past its size (a full disk)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def test_a_full_data_directory_stops_start_up_naming_the_store(
    tmp_path: Path, broker_keys: Path
) -> None:
    shutil.copytree(broker_keys, tmp_path / "keys")
    refused = refused_start(write_config(tmp_path, tmp_path / "data"), preexec_fn=no_room)
    assert refused.returncode == 2, refused.stderr
    assert f"cannot open SQLite store at {tmp_path / 'data' / 'broker.db'}" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.fixture
def process_broker(tmp_path: Path, broker_keys: Path) -> Iterator[tuple[str, int]]:
    shutil.copytree(broker_keys, tmp_path / "keys")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve_process(write_config(tmp_path, tmp_path / "data", port), url)
    try:
        yield url, process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def is_clean_503(response: httpx.Response) -> bool:
    """Whether the answer is the 503 page; otherwise it is the page of an unknown portal."""
    assert "Traceback" not in response.text
    if response.status_code == 400 and "Service not recognised" in response.text:
        return False
    assert response.status_code == 503, response.text
    assert "The service is briefly unavailable" in response.text
    assert response.headers["Retry-After"]
    return True


async def test_a_disk_filling_up_under_the_broker_gives_503_pages_then_it_recovers(
    process_broker: tuple[str, int], tmp_path: Path
) -> None:
    url, pid = process_broker
    # an unknown portal's /authorize is still a write: the per-address rate-limit counter
    authorize = (
        url + "/authorize?" + f"client_id=nobody&response_type=code&redirect_uri={REDIRECT_URI}"
    )
    sizes = [f.stat().st_size for f in (tmp_path / "data").iterdir() if f.is_file()]
    unlimited = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    async with httpx.AsyncClient(headers={"Accept-Language": "en"}, timeout=10) as http:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (max(sizes), unlimited[1]))  # full
        try:
            full = [is_clean_503(await http.get(authorize)) for _ in range(100)]
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)  # room again
        assert any(full)
        for _ in range(100):
            if not is_clean_503(await http.get(authorize)):
                break
        assert (await http.get(url + "/healthz")).status_code == 200
        assert not is_clean_503(await http.get(authorize))
