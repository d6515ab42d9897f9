"""The command line both mock SAML IdPs share: listen address, public URL, trusted SP metadata,
key directory, test faults, log level; then build the app, say what it serves, and run it.

uvicorn's access log stays off: its lines would carry SAMLRequest query strings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette


def argument_parser(
    prog: str, description: str, port: int, more_test_endpoints: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """The options every mock has; a mock adds its own (and names its own test endpoints, which
    `--enable-faults` routes too)."""
    test_endpoints = ", ".join(("/_faults", "/_reload-sp-metadata", *more_test_endpoints))
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--port", type=int, default=port, help="listen port (default %(default)s)")
    parser.add_argument("--public-url", help="base URL as SPs see it (default http://HOST:PORT)")
    parser.add_argument(
        "--sp-metadata",
        action="append",
        default=[],
        metavar="URL_OR_FILE",
        help="metadata of a trusted SP, a file or an http(s) URL (repeatable)",
    )
    parser.add_argument("--key-dir", type=Path, help="keep the IdP keys and certificates here")
    parser.add_argument(
        "--enable-faults",
        action="store_true",
        help=f"enable {test_endpoints} (tests only)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser


def serve(
    args: argparse.Namespace,
    name: str,
    build: Callable[[str], Starlette],
    describe: Callable[[Starlette, str], str],
    errors: tuple[type[Exception], ...],
) -> int:
    """Build the app for its public URL (`errors` end the program with status 2), print
    `describe(app, base_url)` and what it trusts, and run it until stopped."""
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    base_url = public_url(args.host, args.port, args.public_url)
    try:
        app = build(base_url)
    except errors as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    faults = "ENABLED at /_faults" if args.enable_faults else "disabled"
    print(
        f"{describe(app, base_url)}\n  trusted SPs: {len(args.sp_metadata)}\n"
        f"  test faults: {faults}",
        file=sys.stderr,
    )
    import uvicorn

    uvicorn.run(
        app, host=args.host, port=args.port, log_config=None, access_log=False, server_header=False
    )
    return 0


def public_url(host: str, port: int, given: str | None) -> str:
    """The base URL SPs see: `given`, or http://HOST:PORT."""
    host_in_url = f"[{host}]" if ":" in host else host
    return (given or f"http://{host_in_url}:{port}").rstrip("/")
