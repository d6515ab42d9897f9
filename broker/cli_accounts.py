"""`sote-broker catalogue ...`: the partner-organisation catalogue of professional accounts
(`broker.accounts.catalogue`), kept in the store so that every replica offers the same."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from broker.accounts.catalogue import KINDS, load_catalogue, read_catalogue_csv
from broker.app import make_store
from broker.errors import ConfigError
from broker.settings import Settings
from broker.store.accounts import AccountStore

_T = TypeVar("_T")


def add_parsers(commands: Any) -> None:
    catalogue = commands.add_parser(
        "catalogue", help="the partner organisations offered at registration"
    )
    actions = catalogue.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the organisations offered now")
    listing.add_argument("--kind", choices=KINDS, action="append")
    listing.add_argument("--inactive", action="store_true", help="also those no longer offered")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    imported = actions.add_parser(
        "import", help="replace the catalogue from a CSV file (README: partner organisations)"
    )
    imported.add_argument("file", type=Path)
    imported.set_defaults(func=_import)


def _with_accounts(settings: Settings, work: Callable[[AccountStore], Awaitable[_T]]) -> _T:
    async def run() -> _T:
        store = make_store(settings)
        await store.open()
        try:
            return await work(store.accounts)
        finally:
            await store.close()

    return asyncio.run(run())


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing(accounts: AccountStore) -> list[Any]:
        await load_catalogue(accounts, time.time())
        return await accounts.partner_organisations(include_inactive=args.inactive)

    kinds = args.kind or KINDS
    found = [org for org in _with_accounts(settings, listing) if org.kind in kinds]
    if args.json:
        print(json.dumps([_public(org) for org in found], ensure_ascii=False))
    else:
        for org in found:
            active = "" if org.active else "\t(no longer offered)"
            print(f"{org.org_id}\t{org.kind}\t{org.code or '-'}\t{org.names['fi']}{active}")
    return 0


def _public(org: Any) -> dict[str, Any]:
    return {
        "id": org.org_id,
        "kind": org.kind,
        "code": org.code,
        "names": dict(org.names),
        "idp": org.idp_id,
        "active": org.active,
    }


def _import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{args.file}: cannot read it as UTF-8 ({exc})") from exc
    organisations = read_catalogue_csv(text, str(args.file))

    async def replace(accounts: AccountStore) -> tuple[int, int, int]:
        return await accounts.replace_partner_organisations(organisations, time.time())

    added, updated, deactivated = _with_accounts(settings, replace)
    print(
        f"{len(organisations)} organisations: {added} added, {updated} updated, "
        f"{deactivated} no longer offered (kept on the accounts that chose them)"
    )
    return 0
