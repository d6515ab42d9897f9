"""`python -m mock_idps.org_saml_idp`: run the MOCK organisation SAML IdPs.

    python -m mock_idps.org_saml_idp --host 127.0.0.1 --port 8004 \\
        --sp-metadata http://127.0.0.1:8000/saml/metadata [--sp-metadata FILE ...] \\
        [--users FILE] [--key-dir var/org-saml-mock-keys] [--enable-faults]

Entity ids PUBLIC_URL/{org}/idp; metadata at PUBLIC_URL/{org}/metadata.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_idps.org_saml_idp.config import DEFAULT_USERS_FILE


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mock_idps.org_saml_idp",
        description="MOCK organisation SAML IdPs with test users.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8004, help="listen port (default %(default)s)")
    parser.add_argument("--public-url", help="base URL as SPs see it (default http://HOST:PORT)")
    parser.add_argument(
        "--sp-metadata",
        action="append",
        default=[],
        metavar="URL_OR_FILE",
        help="metadata of a trusted SP, a file or an http(s) URL (repeatable)",
    )
    parser.add_argument("--users", type=Path, default=DEFAULT_USERS_FILE, help="users YAML")
    parser.add_argument("--key-dir", type=Path, help="keep the organisations' keys here")
    parser.add_argument(
        "--enable-faults",
        action="store_true",
        help="enable /_faults and /_reload-sp-metadata (tests only)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from mock_idps.org_saml_idp.app import create_app
    from mock_idps.org_saml_idp.config import ConfigError
    from mock_idps.saml_common.entity import MetadataError
    from mock_idps.saml_common.web import public_url, run

    base_url = public_url(args.host, args.port, args.public_url)
    try:
        app = create_app(
            base_url,
            args.sp_metadata,
            args.users,
            key_dir=args.key_dir,
            faults_enabled=args.enable_faults,
        )
    except (MetadataError, ConfigError) as exc:
        print(f"mock organisation SAML IdP: {exc}", file=sys.stderr)
        return 2
    entities = "\n".join(
        f"  {e.entity_id}  metadata {base_url}/{org_id}/metadata"
        for org_id, e in app.state.idp.entities.items()
    )
    faults = "ENABLED at /_faults" if args.enable_faults else "disabled"
    print(
        f"MOCK organisation SAML IdPs\n{entities}\n  trusted SPs: {len(args.sp_metadata)}\n"
        f"  test faults: {faults}",
        file=sys.stderr,
    )
    run(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
