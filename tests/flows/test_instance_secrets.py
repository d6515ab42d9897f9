"""A lost subject key (or cookie key file) is not silently replaced in production.

The subject key makes every pairwise sub, account link hash, identity-code hash and sealed
identity code: a replica started without its volume, or a restore from an old backup, must stop
with a message naming the file, not start with a new key and give returning people new
accounts. An empty store (a first start) or `sote-broker init` may make the files."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from broker.app import create_app
from broker.errors import ConfigError
from broker.store.records import SessionRecord
from broker.store.sqlite import SQLiteStore
from tests.brokers import make_settings
from tests.flows.test_logs_and_cli import cli, free_port


def production_config(tmp_path: Path, port: int = 9) -> Path:
    path = tmp_path / "production.yaml"
    settings = {
        "issuer": "https://broker.example",
        "port": port,
        "secret_file": "cookie-secret",
        "subject_key_file": "subject-key",
        "store": {"sqlite_path": "broker.db"},
        "keys": {"directory": "keys"},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def someone_logged_in(tmp_path: Path) -> None:
    """The store holds an SSO session (a sub made with the subject key)."""

    async def put() -> None:
        store = SQLiteStore(tmp_path / "broker.db")
        await store.open()
        now = time.time()
        await store.sessions.put(SessionRecord("sid", "sub", now, None, (), {}, now, now + 3600))
        await store.close()

    asyncio.run(put())


def write_key(path: Path) -> None:
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")


def serve(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "broker", "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize("lost", ["subject-key", "cookie-secret"])
def test_production_refuses_to_start_when_a_key_file_is_lost(tmp_path: Path, lost: str) -> None:
    config = production_config(tmp_path, free_port())
    for name in ("subject-key", "cookie-secret"):
        if name != lost:  # the other is there; this one was lost with a volume or a backup
            write_key(tmp_path / name)
    someone_logged_in(tmp_path)
    checked = cli(config, "check-config", check=False)
    assert checked.returncode == 2
    assert f"{tmp_path / lost}: " in checked.stderr and "missing" in checked.stderr
    process = serve(config)
    try:
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 2, output
    assert f"{tmp_path / lost}: " in output and "restore the file" in output.lower()
    assert "Traceback" not in output
    assert not (tmp_path / lost).exists()


def test_production_makes_the_keys_on_an_empty_store(tmp_path: Path) -> None:
    port = free_port()
    config = production_config(tmp_path, port)
    process = serve(config)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "no start"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.communicate(timeout=15)
    for name in ("subject-key", "cookie-secret"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600"


def test_init_makes_missing_keys_and_replaces_a_lost_one_only_when_told(tmp_path: Path) -> None:
    config = production_config(tmp_path)
    assert "created" in cli(config, "init").stdout
    kept = (tmp_path / "subject-key").read_bytes()
    assert "nothing was created" in cli(config, "init").stdout
    assert (tmp_path / "subject-key").read_bytes() == kept
    someone_logged_in(tmp_path)
    (tmp_path / "subject-key").unlink()
    refused = cli(config, "init", check=False)
    assert refused.returncode == 2 and "--new-keys" in refused.stderr
    assert not (tmp_path / "subject-key").exists()
    assert "created" in cli(config, "init", "--new-keys").stdout
    assert cli(config, "check-config").returncode == 0


def test_a_key_shorter_than_32_bytes_is_refused(tmp_path: Path) -> None:
    config = production_config(tmp_path)
    write_key(tmp_path / "cookie-secret")
    (tmp_path / "subject-key").write_text(base64.b64encode(b"x" * 16).decode() + "\n")
    refused = cli(config, "check-config", check=False)
    assert refused.returncode == 2
    assert f"{tmp_path / 'subject-key'}: line 1: a key of 16 bytes" in refused.stderr


async def test_the_application_itself_refuses_to_start_without_its_subject_key(
    tmp_path: Path, broker_keys: Path
) -> None:
    """The same rule in the app's own start-up, for whoever runs `create_app` without `serve`."""
    await asyncio.to_thread(someone_logged_in, tmp_path)
    write_key(tmp_path / "secret")
    shutil.copytree(broker_keys, tmp_path / "keys")
    settings = make_settings(
        tmp_path,
        9,
        mode="production",
        issuer="https://broker.example",
        keys={"publish_lead_seconds": 3600},
    )
    app = create_app(settings)
    with pytest.raises(ConfigError, match=r"subject-key: subject_key_file: the file is missing"):
        async with app.router.lifespan_context(app):
            pass
    assert not settings.subject_key_file.exists()
