"""`sote-broker` (also `python -m broker`): serve, check-config, clients, keys, saml-keys,
catalogue (in `cli_accounts`), notices (in `cli_notices`), audit and errors (in `cli_audit`),
idps (in `cli_idps`).

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

from broker import cli_accounts, cli_audit, cli_idps, cli_notices
from broker.app import create_app
from broker.assembly import load_idps, make_store, open_keyring
from broker.claims.release import permitted_scopes
from broker.claims.scopes import supported_scopes
from broker.claims.subjects import SUBJECT_TYPES
from broker.cli_policy import (
    add_policy_arguments,
    check_client_policy,
    policy_fields,
    policy_summary,
    public_policy,
)
from broker.cli_store import opened_store, run_with_store
from broker.clock import SystemClock
from broker.errors import BrokerError, ConfigError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.clients import AUTH_METHODS, MIN_SECRET_LENGTH, check_client
from broker.instance_secrets import check_secrets, init_secrets
from broker.logs import configure
from broker.secret_files import set_private_umask
from broker.settings import Settings, load_settings
from broker.store.base import Store
from broker.store.records import ClientRecord
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

    clients = commands.add_parser("clients", help="manage portals (OAuth clients)")
    client_commands = clients.add_subparsers(required=True, metavar="ACTION")
    _add_client_parser(client_commands)
    listing = client_commands.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_clients_list)
    remove = client_commands.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")
    remove.set_defaults(func=_clients_remove)

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


def _add_client_parser(commands: Any) -> None:
    add = commands.add_parser("add", help="add or replace a client")
    add.add_argument("--client-id", required=True)
    add.add_argument("--name", help="display name (default: the client id)")
    add.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
    add.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], dest="post_logout_uris"
    )
    add.add_argument("--auth-method", choices=AUTH_METHODS, default="client_secret_basic")
    given = add.add_mutually_exclusive_group()
    given.add_argument(
        "--secret-stdin",
        action="store_true",
        help=f"read the client secret (>= {MIN_SECRET_LENGTH} chars) from standard input; "
        "without this or --secret-file one is generated and shown once",
    )
    given.add_argument("--secret-file", type=Path, help="read the client secret from a file")
    given.add_argument("--secret", help=argparse.SUPPRESS)  # refused: see _given_secret
    add.add_argument("--jwks-uri", help="private_key_jwt: where the client publishes its keys")
    add.add_argument("--jwks-file", type=Path, help="private_key_jwt: the client's JWKS file")
    add.add_argument("--backchannel-logout-uri")
    add.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        help="allowed scope (repeat; default: openid profile email phone)",
    )
    add.add_argument(
        "--release-national-identity-code",
        action="store_true",
        help="let the portal ask for the national_identity_code scope (claim hetu); "
        "confidential clients only",
    )
    add.add_argument("--no-refresh-tokens", action="store_true")
    add.add_argument("--id-token-alg", choices=["RS256", "ES256"], default="RS256")
    add.add_argument("--no-pkce", action="store_true", help="confidential clients only")
    add.add_argument(
        "--subject-type",
        choices=SUBJECT_TYPES,
        default="pairwise",
        help="pairwise (default): a sub of the portal's own; public: one sub for all portals",
    )
    add.add_argument(
        "--sector-identifier",
        help="pairwise: the host whose portals share a sub (default: the redirect URIs' host)",
    )
    add_policy_arguments(add)
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=_clients_add)


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


def _client_from_args(settings: Settings, args: argparse.Namespace) -> tuple[ClientRecord, str]:
    secret = ""
    secret_hash = None
    given = _given_secret(args)
    if args.auth_method.startswith("client_secret"):
        secret = secrets.new_secret() if given is None else given
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"client secret: at least {MIN_SECRET_LENGTH} characters expected")
        secret_hash = secrets.hash_secret(secret)
    elif given is not None:
        raise ConfigError(f"client secret: not used with {args.auth_method}")
    jwks = None
    if args.jwks_file:
        try:
            jwks = json.loads(args.jwks_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{args.jwks_file}: not a readable JWKS ({exc})") from exc
    client = ClientRecord(
        client_id=args.client_id,
        client_name=args.name or args.client_id,
        redirect_uris=tuple(args.redirect_uris),
        post_logout_redirect_uris=tuple(args.post_logout_uris),
        token_endpoint_auth_method=args.auth_method,
        secret_hash=secret_hash,
        jwks_uri=args.jwks_uri,
        jwks=jwks,
        backchannel_logout_uri=args.backchannel_logout_uri,
        allowed_scopes=tuple(args.scopes or ("openid", "profile", "email", "phone")),
        grant_types=("authorization_code",)
        if args.no_refresh_tokens
        else ("authorization_code", "refresh_token"),
        id_token_signed_response_alg=args.id_token_alg,
        require_pkce=not args.no_pkce,
        created_at=time.time(),
        subject_type=args.subject_type,
        sector_identifier=args.sector_identifier,
        release_national_identity_code=args.release_national_identity_code,
        **policy_fields(args),
    )
    check_client(client, development=settings.development)
    check_client_policy(settings, client)
    return client, secret


def _given_secret(args: argparse.Namespace) -> str | None:
    """The secret from standard input or a file, never from the command line, which `ps` and
    the shell's history would show."""
    if args.secret is not None:
        raise ConfigError(
            "--secret: a secret on the command line is visible in ps and the shell history; "
            "give it with --secret-stdin or --secret-file"
        )
    if args.secret_stdin:
        return sys.stdin.readline().strip()
    if args.secret_file is not None:
        try:
            return str(args.secret_file.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--secret-file: cannot read {args.secret_file} ({exc})") from exc
    return None


def _clients_add(settings: Settings, args: argparse.Namespace) -> int:
    client, secret = _client_from_args(settings, args)

    run_with_store(settings, lambda store: store.clients.put(client))
    if args.json:
        print(json.dumps({"client_id": client.client_id, "client_secret": secret or None}))
    else:
        print(f"client {client.client_id} saved")
        if secret and not (args.secret_stdin or args.secret_file):
            print(f"client_secret: {secret}\n(shown once; only its hash is stored)")
    return 0


def _clients_list(settings: Settings, args: argparse.Namespace) -> int:
    clients = run_with_store(settings, lambda store: store.clients.all())
    if args.json:
        print(json.dumps([_public(c) for c in clients], indent=2))
    else:
        for c in clients:
            uris, scopes = " ".join(c.redirect_uris), " ".join(_scopes(c))
            policy = f"\t{summary}" if (summary := policy_summary(c)) else ""
            print(f"{c.client_id}\t{c.token_endpoint_auth_method}\t{uris}\t{scopes}{policy}")
    return 0


def _public(client: ClientRecord) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "jwks_uri": client.jwks_uri,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "allowed_scopes": list(client.allowed_scopes),
        "grant_types": list(client.grant_types),
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "subject_type": client.subject_type,
        "sector_identifier": client.sector_identifier,
        "release_national_identity_code": client.release_national_identity_code,
        **public_policy(client),
    }


def _scopes(client: ClientRecord) -> list[str]:
    """What the portal may ask for, the identity code's scope included when it is allowed."""
    return [s for s in supported_scopes() if s in permitted_scopes(client)]


def _clients_remove(settings: Settings, args: argparse.Namespace) -> int:
    removed = run_with_store(
        settings, lambda store: store.clients.delete(args.client_id, time.time())
    )
    if not removed:
        print(f"sote-broker: no client {args.client_id}", file=sys.stderr)
        return 1
    print(f"client {args.client_id} removed; its grants and tokens revoked")
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
