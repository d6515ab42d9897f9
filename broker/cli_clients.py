"""`sote-broker clients add|list|remove`: portals registered as OAuth clients, with their
policy (`cli_policy`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

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
from broker.cli_store import run_with_store
from broker.errors import ConfigError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.clients import AUTH_METHODS, MIN_SECRET_LENGTH, check_client
from broker.settings import Settings
from broker.store.records import ClientRecord


def add_parsers(commands: Any) -> None:
    clients = commands.add_parser("clients", help="manage portals (OAuth clients)")
    client_commands = clients.add_subparsers(required=True, metavar="ACTION")
    _add_client_parser(client_commands)
    listing = client_commands.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_clients_list)
    remove = client_commands.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")
    remove.set_defaults(func=_clients_remove)


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
