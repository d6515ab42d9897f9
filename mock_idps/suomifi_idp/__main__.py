"""`python -m mock_idps.suomifi_idp`: run the MOCK Suomi.fi e-Identification IdP.

    python -m mock_idps.suomifi_idp --host 127.0.0.1 --port 8003 \\
        --sp-metadata http://127.0.0.1:8000/saml/metadata [--sp-metadata FILE ...] \\
        [--key-dir var/suomifi-idp] [--no-encrypt] [--enable-faults]

Entity id PUBLIC_URL/idp; its metadata at PUBLIC_URL/metadata.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_idps.suomifi_idp.persons import DEFAULT_PERSONS_FILE


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mock_idps.suomifi_idp",
        description="A MOCK Suomi.fi e-Identification SAML IdP with test persons.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8003, help="listen port (default %(default)s)")
    parser.add_argument("--public-url", help="base URL as SPs see it (default http://HOST:PORT)")
    parser.add_argument(
        "--sp-metadata",
        action="append",
        default=[],
        metavar="URL_OR_FILE",
        help="metadata of a trusted SP, a file or an http(s) URL (repeatable)",
    )
    parser.add_argument(
        "--persons", type=Path, default=DEFAULT_PERSONS_FILE, help="test persons YAML"
    )
    parser.add_argument("--key-dir", type=Path, help="keep the IdP key and certificate here")
    parser.add_argument(
        "--encrypt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="encrypt assertions to the SP (default: yes, as Suomi.fi)",
    )
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
    from mock_idps.saml_common.entity import MetadataError
    from mock_idps.saml_common.web import public_url, run
    from mock_idps.suomifi_idp.app import create_app
    from mock_idps.suomifi_idp.persons import PersonsError

    base_url = public_url(args.host, args.port, args.public_url)
    try:
        app = create_app(
            base_url,
            args.sp_metadata,
            args.persons,
            key_dir=args.key_dir,
            encrypt_assertions=args.encrypt,
            faults_enabled=args.enable_faults,
        )
    except (MetadataError, PersonsError) as exc:
        print(f"mock Suomi.fi IdP: {exc}", file=sys.stderr)
        return 2
    faults = "ENABLED at /_faults" if args.enable_faults else "disabled"
    print(
        f"MOCK Suomi.fi e-Identification IdP\n  entity id: {base_url}/idp\n"
        f"  metadata:  {base_url}/metadata\n  trusted SPs: {len(args.sp_metadata)}\n"
        f"  test faults: {faults}",
        file=sys.stderr,
    )
    run(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
