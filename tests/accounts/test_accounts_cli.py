"""`sote-broker accounts export|erase` for data-subject requests, against a real store: the
person named by account id or by their identity code on standard input (never argv)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.accounts.catalogue import load_catalogue
from broker.accounts.service import Accounts, Registration, identity_keys
from broker.claims.identity import Identity
from broker.clock import FrozenClock
from broker.secret_files import load_or_create_keys
from broker.store.sqlite import SQLiteStore
from broker.upstream.registry import HIGH_ASSURANCE
from tests.flows.test_logs_and_cli import cli

TESSA = "010280-952L"


async def registered(tmp_path: Path) -> tuple[Path, str]:
    """Settings for a broker whose store has Tessa's account (registered through Suomi.fi)."""
    config = tmp_path / "broker.yaml"
    settings = {
        "mode": "development",
        "issuer": "http://127.0.0.1:9",
        "store": {"sqlite_path": "broker.db"},
        "subject_key_file": "subject-key",
    }
    config.write_text(yaml.safe_dump(settings))
    key = load_or_create_keys(tmp_path / "subject-key")[0]
    store = SQLiteStore(tmp_path / "broker.db")
    await store.open()
    try:
        clock = FrozenClock(time.time() - 60)  # before the CLI, which uses the real time
        catalogue = await load_catalogue(store.accounts, clock.now())
        identity = Identity(
            idp_id="suomifi",
            issuer="https://suomi.fi",
            subject=TESSA,
            route="personal",
            hetu=TESSA,
            acr=HIGH_ASSURANCE[0],
        )
        typed = Registration("040 123 4567", "tessa@example.fi", ["school:tamk"])
        account = await Accounts(store.accounts, clock).register(
            identity_keys(identity, key, link_acr=HIGH_ASSURANCE), typed, catalogue
        )
    finally:
        await store.close()
    return config, account.account_id


def test_an_export_by_identity_code_shows_everything_stored_and_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, account_id = asyncio.run(registered(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO(TESSA + "\n"))
    exported = cli(config, "accounts", "export", "--hetu-stdin").stdout
    assert TESSA not in exported
    data = json.loads(exported)
    assert (data["account_id"], data["phone_number"], data["email"]) == (
        account_id,
        "+358401234567",
        "tessa@example.fi",
    )
    assert data["partner_organisations"][0]["names"]["fi"] == "Tampereen ammattikorkeakoulu (TAMK)"
    assert data["language"] == "fi"  # the one registered in, for the mail the broker sends
    assert [r["idp"] for r in data["login_routes"]] == ["suomifi"]
    assert [e["action"] for e in data["audit_trail"]] == ["registered"]
    again = json.loads(cli(config, "accounts", "export", "--account-id", account_id).stdout)
    assert [e["action"] for e in again["audit_trail"]] == ["registered", "exported"]


def test_erase_needs_yes_and_leaves_only_the_audit_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, account_id = asyncio.run(registered(tmp_path))
    with pytest.raises(SystemExit):  # argparse: --yes is required
        cli(config, "accounts", "erase", "--account-id", account_id)
    assert "erased" in cli(config, "accounts", "erase", "--account-id", account_id, "--yes").stdout
    gone = cli(config, "accounts", "export", "--account-id", account_id, check=False)
    assert gone.returncode == 2 and "no such account" in gone.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("010280-952X\n"))  # a wrong check character
    bad = cli(config, "accounts", "export", "--hetu-stdin", check=False)
    assert bad.returncode == 2 and "not a valid identity code" in bad.stderr
    assert "010280" not in bad.stderr
    trail, person_ids = asyncio.run(left_behind(tmp_path, account_id))
    assert [(e.action, e.actor) for e in trail] == [
        ("registered", "self"),
        ("erased", "operator"),
    ]
    assert person_ids == []


async def left_behind(tmp_path: Path, account_id: str) -> tuple[list[Any], list[Any]]:
    store = SQLiteStore(tmp_path / "broker.db")
    await store.open()
    try:
        trail = await store.audit.trail(account_id)
        return trail, await store.connection.all("SELECT * FROM account_person_ids")
    finally:
        await store.close()
