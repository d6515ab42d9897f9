"""`python -m mock_idps.demo_portal`: run the demo portal next to a broker.

    python -m mock_idps.demo_portal --issuer http://127.0.0.1:8000 --client-id demo-portal \\
        --host 127.0.0.1 --port 8001 [--public-url http://127.0.0.1:8001]

The client secret is best given in DEMO_PORTAL_CLIENT_SECRET (a command line shows in `ps`).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import warnings
from collections.abc import Sequence

DEFAULT_ISSUER = "http://127.0.0.1:8000"
DEFAULT_CLIENT_ID = "demo-portal"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m mock_idps.demo_portal",
        description="A DEMO OpenID Connect portal (Mielenterveystalo-style) for the sote-broker.",
    )
    parser.add_argument(
        "--issuer",
        default=env.get("DEMO_PORTAL_ISSUER", DEFAULT_ISSUER),
        help="the broker's issuer URL (env DEMO_PORTAL_ISSUER; default %(default)s)",
    )
    parser.add_argument(
        "--client-id",
        default=env.get("DEMO_PORTAL_CLIENT_ID", DEFAULT_CLIENT_ID),
        help="client_id registered at the broker (env DEMO_PORTAL_CLIENT_ID; default %(default)s)",
    )
    parser.add_argument(
        "--client-secret",
        default=env.get("DEMO_PORTAL_CLIENT_SECRET"),
        help="client secret (env DEMO_PORTAL_CLIENT_SECRET; omit for a public PKCE client)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8001, help="listen port (default %(default)s)")
    parser.add_argument(
        "--public-url",
        help="the portal's URL as browsers see it (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--session-secret",
        default=env.get("DEMO_PORTAL_SESSION_SECRET"),
        help="key for the session cookie (env DEMO_PORTAL_SESSION_SECRET; default: random)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # authlib logs the PKCE verifier and httpcore the wire at DEBUG: keep them quiet always.
    for name in ("authlib", "httpcore", "httpx"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.INFO))


def quiet_authlib_deprecation() -> None:
    """authlib 1.9 warns on import that its httpx integration will move to httpx2; the warning
    is for authlib's maintainers' users in general and says nothing about this portal."""
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 - installs its filter

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    quiet_authlib_deprecation()

    import uvicorn

    from mock_idps.demo_portal.app import create_app

    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    public_url = (args.public_url or f"http://{host_in_url}:{args.port}").rstrip("/")
    app = create_app(
        issuer=args.issuer,
        client_id=args.client_id,
        client_secret=args.client_secret or None,
        public_url=public_url,
        session_secret=args.session_secret or secrets.token_urlsafe(32),
    )
    print(
        f"Demo portal: {public_url}/  (broker {args.issuer}, client_id {args.client_id})\n"
        f"  register at the broker: redirect_uri {public_url}/callback\n"
        f"                          post_logout_redirect_uri {public_url}/\n"
        f"                          backchannel_logout_uri {public_url}/backchannel-logout",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,  # its lines would carry /callback?code=...
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
