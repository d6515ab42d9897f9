"""`sote-broker` (also `python -m broker`): serve, check-config, migrate, init, keys, saml-keys;
clients (in `cli_clients`), catalogue and accounts (in `cli_accounts`), notices (in
`cli_notices`), audit and errors (in `cli_audit`), idps (in `cli_idps`).

Every command is scriptable: arguments in, plain or `--json` output, non-zero exit on error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from broker import cli_accounts, cli_audit, cli_clients, cli_idps, cli_notices
from broker.app import create_app
from broker.assembly import load_idps, make_store, open_keyring
from broker.cli_policy import (
    check_client_policy,
)
from broker.cli_store import opened_store, run_with_store
from broker.clock import SystemClock
from broker.errors import BrokerError, ConfigError
from broker.frontend.oidc.clients import check_client
from broker.instance_secrets import check_secrets, init_secrets
from broker.logs import configure
from broker.secret_files import set_private_umask
from broker.settings import Settings, load_settings
from broker.store.base import Store
from broker.upstream.saml.sp_keys import KeyPair, SPKeyRing


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    set_private_umask()  # every command may create the store or a key file
    try:
        settings = load_settings(args.config)
        result: int = args.func(settings, args)
    except BrokerError as exc:
        print(f"sote-broker: {exc}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sote-broker", description=__doc__)
    parser.add_argument("--config", type=Path, help="settings YAML (default: $SOTE_BROKER_CONFIG)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the broker")
    serve.add_argument("--host", help="override settings.host")
    serve.add_argument("--port", type=int, help="override settings.port")
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check-config", help="validate settings, store and keys; exit")
    check.set_defaults(func=_check_config)

    migrate = commands.add_parser("migrate", help="apply the store's pending migrations; exit")
    migrate.set_defaults(func=_migrate)
    init = commands.add_parser(
        "init", help="create the subject key and cookie keys where missing (README: keys)"
    )
    init.add_argument(
        "--new-keys",
        action="store_true",
        help="even though the store holds accounts or sessions: the old subject key is lost, "
        "and every portal's sub and every account link changes",
    )
    init.set_defaults(func=_init)

    keys = commands.add_parser("keys", help="manage signing keys")
    key_commands = keys.add_subparsers(required=True, metavar="ACTION")
    key_list = key_commands.add_parser("list", help="list signing keys and their state")
    key_list.add_argument("--json", action="store_true")
    key_list.set_defaults(func=_keys_list)
    rotate = key_commands.add_parser("rotate", help="add a key; it signs after the publish lead")
    rotate.add_argument("--alg", choices=["RS256", "ES256"], action="append")
    rotate.add_argument(
        "--publish-lead", type=float, help="seconds before the new key signs (default: settings)"
    )
    rotate.set_defaults(func=_keys_rotate)
    _add_saml_keys_parser(commands)
    cli_clients.add_parsers(commands)
    cli_accounts.add_parsers(commands)
    cli_notices.add_parsers(commands)
    cli_audit.add_parsers(commands)
    cli_idps.add_parsers(commands)
    return parser


def _add_saml_keys_parser(commands: Any) -> None:
    saml_keys = commands.add_parser(
        "saml-keys", help="the SAML SP's key pairs and their rollover (README: SP key rollover)"
    )
    actions = saml_keys.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the key pairs, their roles and fingerprints")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_saml_keys_list)
    steps = {
        "add": "1. a new pair, published and decrypting, not signing yet",
        "activate": "2. the new pair signs; the old one still decrypts",
        "retire": "3. the old pair is no longer published, nor decrypts; its files go",
    }
    for step, description in steps.items():
        action = actions.add_parser(step, help=description)
        action.set_defaults(func=_saml_keys_step, step=step)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    configure(settings.logging.level, json_format=settings.logging.json_format)
    # A store that cannot be opened (a data directory read-only or full, a database out of
    # reach), a signing-key directory it cannot use and, in production, a lost key file stop
    # start-up here with a plain message naming the path, not a traceback from the lifespan.
    run_with_store(settings, lambda store: _check_before_serving(settings, store))
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        access_log=False,
        log_config=None,
        # the client address (rate limits) is the socket's unless a trusted proxy is named
        proxy_headers=bool(settings.limits.trusted_proxies),
        forwarded_allow_ips=list(settings.limits.trusted_proxies) or None,
        server_header=False,
    )
    return 0


async def _check_before_serving(settings: Settings, store: Store) -> None:
    if not settings.development:
        await check_secrets(settings, store)
    open_keyring(settings, SystemClock())  # a key directory it cannot use: a plain message too


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Bring the store's schema up to date (before starting a new version on PostgreSQL, where
    brokers in production mode do not migrate by themselves). Safe to run while brokers run:
    each migration is one transaction, and replicas take turns."""

    async def migrate() -> list[int]:
        store = make_store(settings, migrate=True)
        await store.connection.open()
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(migrate())
    names = ", ".join(f"{v:04d}" for v in applied)
    print(f"ok: applied {names}" if applied else "ok: the schema is up to date")
    return 0


def _check_config(settings: Settings, args: argparse.Namespace) -> int:
    async def check() -> int:
        async with opened_store(settings) as store:
            clients = await store.clients.all()
            if not settings.development:
                await check_secrets(settings, store)
        for client in clients:
            check_client(client, development=settings.development)
            check_client_policy(settings, client)
        keys = open_keyring(settings, SystemClock())
        active = [k.kid for k in keys.list() if k.state == "active"]
        idps = load_idps(settings).idps()
        for idp in idps:
            if idp.oidc is not None:
                idp.oidc.client_secret.resolve()
        print(f"ok: {settings.mode} mode, issuer {settings.issuer}")
        print(f"ok: {len(clients)} client(s), {len(active)} active signing key(s)")
        print(f"ok: {len(idps)} upstream IdP(s): {', '.join(i.id for i in idps) or 'none'}")
        return 0

    return asyncio.run(check())


def _init(settings: Settings, args: argparse.Namespace) -> int:
    made = run_with_store(
        settings, lambda store: init_secrets(settings, store, new_keys=args.new_keys)
    )
    for path in made:
        print(f"created {path} (0600): back it up; every replica needs the same file")
    if not made:
        print("ok: the subject key and the cookie keys exist; nothing was created")
    return 0


def _keys_list(settings: Settings, args: argparse.Namespace) -> int:
    keys = open_keyring(settings, SystemClock())
    infos = keys.list()
    if args.json:
        print(json.dumps([_key(info) for info in infos]))
    else:
        for info in infos:
            print(f"{info.kid}\t{info.alg}\t{info.state}\tsigns from {_when(info.activates_at)}")
    return 0


def _key(info: Any) -> dict[str, Any]:
    return {
        "kid": info.kid,
        "alg": info.alg,
        "state": info.state,
        "created_at": info.created_at,
        "activates_at": info.activates_at,
    }


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _saml_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    ring = SPKeyRing(settings.saml_sp.key_directory)
    pairs = [_saml_pair(role, pair) for role, pair in ring.keys.pairs()]
    if args.json:
        print(json.dumps(pairs))
    else:
        for pair in pairs:
            print("\t".join(pair.values()))
    return 0


def _saml_pair(role: str, pair: KeyPair) -> dict[str, str]:
    expires = pair.certificate().not_valid_after_utc
    return {
        "name": pair.name,
        "role": role,
        "sha256": pair.fingerprint(),
        "not_after": expires.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _saml_keys_step(settings: Settings, args: argparse.Namespace) -> int:
    ring = SPKeyRing(settings.saml_sp.key_directory)
    pair = getattr(ring, args.step)()
    done = {
        "add": "added as the next key: published in the SP metadata, not signing yet",
        "activate": "active: it signs from now on; the previous key still decrypts",
        "retire": "retired: no longer published and its files are gone",
    }
    print(f"{pair.name}\t{done[args.step]}")
    print("running brokers pick the change up within settings.housekeeping_seconds")
    return 0


def _keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    lead = args.publish_lead
    if lead is not None and not settings.development and lead < settings.min_publish_lead:
        raise ConfigError(
            f"--publish-lead: at least {settings.min_publish_lead:g} in production "
            "(keys.jwks_cache_seconds + housekeeping_seconds + tokens.clock_skew)"
        )
    keys = open_keyring(settings, SystemClock())
    for alg in args.alg or settings.keys.algorithms:
        info = keys.rotate(alg, args.publish_lead)
        print(f"{info.kid}\t{info.alg}\tpublished now, signs from {_when(info.activates_at)}")
    return 0
