"""`sote-broker catalogue list|import` against a real store file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from broker.accounts.catalogue import COLUMNS
from tests.flows.test_logs_and_cli import cli


def config(tmp_path: Path) -> Path:
    path = tmp_path / "broker.yaml"
    settings = {
        "mode": "development",
        "issuer": "http://127.0.0.1:9",
        "store": {"sqlite_path": "broker.db"},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def test_the_store_is_seeded_and_an_import_replaces_the_catalogue(tmp_path: Path) -> None:
    settings = config(tmp_path)
    schools = json.loads(cli(settings, "catalogue", "list", "--kind", "school", "--json").stdout)
    assert {"id": "school:tamk", "kind": "school", "active": True}.items() <= next(
        s for s in schools if s["id"] == "school:tamk"
    ).items()

    new = tmp_path / "new.csv"
    new.write_text(
        ",".join(COLUMNS) + "\n"
        "school:tamk,school,,Tampereen ammattikorkeakoulu,Tammerfors yrkeshögskola,TAMK,\n"
        "municipality:837,municipality,837,Tampere,Tammerfors,Tampere,\n",
        encoding="utf-8",
    )
    imported = cli(settings, "catalogue", "import", str(new)).stdout
    assert "2 organisations: 0 added, 1 updated" in imported
    offered = cli(settings, "catalogue", "list").stdout.splitlines()
    assert [line.split("\t")[0] for line in offered] == ["municipality:837", "school:tamk"]
    everything = cli(settings, "catalogue", "list", "--inactive").stdout
    assert "school:uef" in everything and "(no longer offered)" in everything

    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(COLUMNS) + "\nschool:x,college,,A,B,C,\n", encoding="utf-8")
    refused = cli(settings, "catalogue", "import", str(broken), check=False)
    assert refused.returncode == 2 and "broken.csv, line 2: kind must be one of" in refused.stderr
    assert cli(settings, "catalogue", "list").stdout.splitlines() == offered  # nothing changed
