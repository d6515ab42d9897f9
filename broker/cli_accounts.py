"""`sote-broker catalogue ...` and `sote-broker accounts ...`: the partner-organisation catalogue
of professional accounts (`broker.accounts.catalogue`), kept in the store so that every replica
offers the same, and the data-subject requests on an account (export, erase).

A person is named by their account id or by their identity code, which is read from standard
input (never from the command line, which `ps` and the shell's history would keep) and used only
as its keyed hash."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from broker.accounts.catalogue import KINDS, load_catalogue, read_catalogue_csv
from broker.accounts.service import person_hash
from broker.claims.hetu import HetuError
from broker.claims.subjects import ClientSubjects
from broker.cli_store import run_with_store
from broker.errors import ConfigError
from broker.frontend.oidc.logout import end_subject_sessions
from broker.instance_secrets import subject_key
from broker.settings import Settings
from broker.store.accounts import AccountStore, AuditEntry
from broker.store.base import Store

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

    accounts = commands.add_parser("accounts", help="data-subject requests on an account")
    account_actions = accounts.add_subparsers(required=True, metavar="ACTION")
    export = account_actions.add_parser("export", help="print what is stored of the person (JSON)")
    erase = account_actions.add_parser(
        "erase", help="delete the account, its links and identifiers (the audit trail stays)"
    )
    for action in (export, erase):
        who = action.add_mutually_exclusive_group(required=True)
        who.add_argument("--account-id")
        who.add_argument(
            "--hetu-stdin", action="store_true", help="read the identity code from standard input"
        )
    export.set_defaults(func=_export)
    erase.add_argument("--yes", action="store_true", required=True, help="yes, erase it")
    erase.set_defaults(func=_erase)


def _with_accounts(settings: Settings, work: Callable[[AccountStore], Awaitable[_T]]) -> _T:
    return run_with_store(settings, lambda store: work(store.accounts))


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


async def _find(settings: Settings, accounts: AccountStore, args: argparse.Namespace) -> Any:
    if args.account_id:
        account = await accounts.get_account(args.account_id)
    else:
        key = subject_key(settings)
        try:
            hashed = person_hash(sys.stdin.readline().strip(), key)
        except HetuError as exc:
            raise ConfigError(f"standard input: not a valid identity code ({exc})") from exc
        account = await accounts.account_by_person(hashed)
    if account is None:
        raise ConfigError("no such account")
    return account


def _export(settings: Settings, args: argparse.Namespace) -> int:
    async def export(store: Store) -> dict[str, Any]:
        accounts = store.accounts
        account = await _find(settings, accounts, args)
        catalogue = {
            o.org_id: o for o in await accounts.partner_organisations(include_inactive=True)
        }
        data = {
            "account_id": account.account_id,
            "phone_number": account.phone,
            "email": account.email,
            "email_verified_at": account.email_verified_at,
            "language": account.language,
            "partner_organisations": [
                {
                    "id": org_id,
                    "names": dict(catalogue[org_id].names) if org_id in catalogue else {},
                }
                for org_id in account.partners
            ],
            "created_at": account.created_at,
            "updated_at": account.updated_at,
            "login_routes": [
                {
                    "idp": link.idp_id,
                    "route": link.route,
                    "linked_at": link.linked_at,
                    "last_login_at": link.last_login_at,
                }
                for link in await accounts.links(account.account_id)
            ],
            "audit_trail": [
                {
                    "at": e.at,
                    "action": e.action,
                    "actor": e.actor,
                    "route": e.route,
                    "changes": dict(e.changes),
                }
                for e in await store.audit.trail(account.account_id)
            ],
        }
        await store.audit.add(
            AuditEntry(account.account_id, time.time(), "exported", actor="operator")
        )
        return data

    print(json.dumps(run_with_store(settings, export), ensure_ascii=False, indent=2))
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    """The account's SSO sessions end first (its portals are told by a running broker, which
    delivers the back-channel logouts queued in the store), then the account goes."""

    async def erase(store: Store) -> tuple[str, int]:
        account = await _find(settings, store.accounts, args)
        subjects = ClientSubjects(subject_key(settings))
        ended = await end_subject_sessions(
            store, subjects, time.time(), account.account_id, https_only=not settings.development
        )
        entry = AuditEntry(account.account_id, time.time(), "erased", actor="operator")
        if not await store.accounts.delete_account(account.account_id, entry):
            raise ConfigError("no such account")
        return str(account.account_id), ended

    account_id, ended = run_with_store(settings, erase)
    print(
        f"account {account_id} erased: its links and identifiers too, {ended} SSO session(s) "
        "ended and its grants revoked; the audit trail stays"
    )
    return 0
