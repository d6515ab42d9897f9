"""`python -m mock_idps.oidc_idp`: run the mock organisation IdP for local development.

    python -m mock_idps.oidc_idp --host 127.0.0.1 --port 8002 \\
        [--users mock_idps/test_users.yaml] [--redirect-uri URI ...] [--enable-faults]

Issuers are PUBLIC_URL/{org}, e.g. http://127.0.0.1:8002/hus. An extra client can be added with
--client-id and a secret from MOCK_OIDC_IDP_CLIENT_SECRET (a command line shows in `ps`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_idps.oidc_idp.config import DEFAULT_USERS_FILE, Client, ConfigError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m mock_idps.oidc_idp",
        description="A MOCK OpenID Provider playing every organisation of the sote-broker.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8002, help="listen port (default %(default)s)")
    parser.add_argument(
        "--public-url", help="base URL as clients see it (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--users", type=Path, default=DEFAULT_USERS_FILE, help="users and clients YAML"
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="extra exact redirect URI for every client (repeatable)",
    )
    parser.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="extra post-logout redirect URI for every client (repeatable)",
    )
    parser.add_argument(
        "--client-id",
        default=env.get("MOCK_OIDC_IDP_CLIENT_ID"),
        help="add (or replace) a client; its redirect URIs are the --redirect-uri values "
        "(env MOCK_OIDC_IDP_CLIENT_ID; secret from env MOCK_OIDC_IDP_CLIENT_SECRET)",
    )
    parser.add_argument(
        "--require-pkce",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether the --client-id client must use PKCE (default: yes)",
    )
    parser.add_argument("--key-dir", type=Path, help="keep signing keys here as {org}.pem")
    parser.add_argument(
        "--enable-faults", action="store_true", help="enable POST/DELETE /_faults (tests only)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser.parse_args(argv)


def extra_clients(args: argparse.Namespace) -> list[Client]:
    if not args.client_id:
        return []
    secret = os.environ.get("MOCK_OIDC_IDP_CLIENT_SECRET")
    if not secret or not args.redirect_uri:
        raise SystemExit(
            "--client-id needs MOCK_OIDC_IDP_CLIENT_SECRET in the environment and --redirect-uri"
        )
    return [
        Client(
            client_id=args.client_id,
            client_secret=secret,
            redirect_uris=tuple(args.redirect_uri),
            post_logout_redirect_uris=tuple(args.post_logout_redirect_uri),
            require_pkce=args.require_pkce,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import uvicorn

    from mock_idps.oidc_idp.app import create_app

    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    public_url = (args.public_url or f"http://{host_in_url}:{args.port}").rstrip("/")
    try:
        app = create_app(
            public_url,
            args.users,
            extra_redirect_uris=args.redirect_uri,
            faults_enabled=args.enable_faults,
            extra_post_logout_redirect_uris=args.post_logout_redirect_uri,
            extra_clients=extra_clients(args),
            key_dir=args.key_dir,
        )
    except ConfigError as exc:
        print(f"mock OIDC IdP: {exc}", file=sys.stderr)
        return 2
    orgs = app.state.idp.config.organisations
    issuers = "\n".join(f"  {public_url}/{oid}" for oid in orgs)
    faults = "ENABLED at /_faults" if args.enable_faults else "disabled"
    print(
        f"MOCK organisation OIDC IdP, issuers:\n{issuers}\n  test faults: {faults}", file=sys.stderr
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,  # its lines would carry id_token_hint and other query strings
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
