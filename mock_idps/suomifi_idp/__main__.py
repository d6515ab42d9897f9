"""`python -m mock_idps.suomifi_idp`: run the MOCK Suomi.fi e-Identification IdP.

    python -m mock_idps.suomifi_idp --host 127.0.0.1 --port 8003 \\
        --sp-metadata http://127.0.0.1:8000/saml/metadata [--sp-metadata FILE ...] \\
        [--key-dir var/suomifi-idp] [--no-encrypt] [--enable-faults]

Entity id PUBLIC_URL/idp; its metadata at PUBLIC_URL/metadata.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette

from mock_idps.saml_common.cli import argument_parser, serve
from mock_idps.suomifi_idp.persons import DEFAULT_PERSONS_FILE


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argument_parser(
        "python -m mock_idps.suomifi_idp",
        "A MOCK Suomi.fi e-Identification SAML IdP with test persons.",
        8003,
        more_test_endpoints=("/_idp-logout", "/_key-rollover"),
    )
    parser.add_argument(
        "--persons", type=Path, default=DEFAULT_PERSONS_FILE, help="test persons YAML"
    )
    parser.add_argument(
        "--encrypt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="encrypt assertions to the SP (default: yes, as Suomi.fi)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from mock_idps.saml_common.entity import MetadataError
    from mock_idps.suomifi_idp.app import create_app
    from mock_idps.suomifi_idp.persons import PersonsError

    def build(base_url: str) -> Starlette:
        return create_app(
            base_url,
            args.sp_metadata,
            args.persons,
            key_dir=args.key_dir,
            encrypt_assertions=args.encrypt,
            faults_enabled=args.enable_faults,
        )

    def describe(app: Starlette, base_url: str) -> str:
        return (
            f"MOCK Suomi.fi e-Identification IdP\n  entity id: {base_url}/idp\n"
            f"  metadata:  {base_url}/metadata\n"
            f"  metadata signed by: {app.state.idp.keys.metadata_signing.cert_file}"
        )

    return serve(args, "mock Suomi.fi IdP", build, describe, (MetadataError, PersonsError))


if __name__ == "__main__":
    sys.exit(main())
