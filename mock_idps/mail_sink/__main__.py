"""`python -m mock_idps.mail_sink`: the demo's SMTP sink and its page, in one process.

    python -m mock_idps.mail_sink --host 127.0.0.1 --smtp-port 8025 --http-port 8006

Both servers share one event loop; Ctrl-C (or SIGTERM) stops both.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from mock_idps.mail_sink.messages import DEFAULT_MAX_MESSAGES


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mock_idps.mail_sink",
        description="A DEMO SMTP mail sink: keeps received mail in memory and shows it over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    parser.add_argument("--smtp-port", type=int, default=8025, help="default %(default)s")
    parser.add_argument("--http-port", type=int, default=8006, help="default %(default)s")
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="keep only the newest this many (default %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from mock_idps.mail_sink.app import create_app
    from mock_idps.mail_sink.messages import MessageStore
    from mock_idps.mail_sink.smtp import bind_smtp_socket, start_smtp

    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    store = MessageStore(args.max_messages)
    smtp = await start_smtp(store, bind_smtp_socket(args.host, args.smtp_port))
    app = create_app(store, smtp_address=f"{host_in_url}:{args.smtp_port}")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.http_port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    print(
        f"Demo mail sink: SMTP {host_in_url}:{args.smtp_port} (no TLS, no AUTH), "
        f"messages at http://{host_in_url}:{args.http_port}/",
        file=sys.stderr,
    )
    async with smtp:
        await uvicorn.Server(config).serve()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
