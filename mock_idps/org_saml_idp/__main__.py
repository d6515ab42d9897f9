"""`python -m mock_idps.org_saml_idp`: run the MOCK organisation SAML IdPs.

    python -m mock_idps.org_saml_idp --host 127.0.0.1 --port 8004 \\
        --sp-metadata http://127.0.0.1:8000/saml/metadata [--sp-metadata FILE ...] \\
        [--users FILE] [--key-dir var/org-saml-mock-keys] [--enable-faults]

Entity ids PUBLIC_URL/{org}/idp; metadata at PUBLIC_URL/{org}/metadata.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette

from mock_idps.org_saml_idp.config import DEFAULT_USERS_FILE
from mock_idps.saml_common.cli import argument_parser, serve


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argument_parser(
        "python -m mock_idps.org_saml_idp", "MOCK organisation SAML IdPs with test users.", 8004
    )
    parser.add_argument("--users", type=Path, default=DEFAULT_USERS_FILE, help="users YAML")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from mock_idps.org_saml_idp.app import create_app
    from mock_idps.org_saml_idp.config import ConfigError
    from mock_idps.saml_common.entity import MetadataError

    def build(base_url: str) -> Starlette:
        return create_app(
            base_url,
            args.sp_metadata,
            args.users,
            key_dir=args.key_dir,
            faults_enabled=args.enable_faults,
        )

    def describe(app: Starlette, base_url: str) -> str:
        entities = app.state.idp.entities
        return "MOCK organisation SAML IdPs\n" + "\n".join(
            f"  {e.entity_id}  metadata {base_url}/{org_id}/metadata"
            for org_id, e in entities.items()
        )

    return serve(args, "mock organisation SAML IdP", build, describe, (MetadataError, ConfigError))


if __name__ == "__main__":
    sys.exit(main())
