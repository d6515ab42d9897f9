"""`sote-broker audit export` (the authentication audit trail as JSON lines) and `sote-broker
errors show ERROR_ID` (what happened behind an error id a person was shown, for the helpdesk).
Neither prints anything that names a person: the records hold no identity code or name."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime
from typing import Any

from broker.cli_store import run_with_store
from broker.errors import ConfigError
from broker.settings import Settings
from broker.store.error_events import ErrorEvent


def add_parsers(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the authentication audit trail")
    actions = audit.add_subparsers(required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="each completed or failed login, oldest first, as JSON lines"
    )
    export.add_argument("--since", type=_timestamp, help="ISO 8601 time (UTC if no offset)")
    export.add_argument("--account", help="only this account id's logins")
    export.add_argument("--client", help="only this portal's (client id) logins")
    export.set_defaults(func=_export)

    errors = commands.add_parser("errors", help="the error ids people were shown")
    error_actions = errors.add_subparsers(required=True, metavar="ACTION")
    show = error_actions.add_parser("show", help="what happened behind an error id")
    show.add_argument("error_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)


def _timestamp(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _export(settings: Settings, args: argparse.Namespace) -> int:
    events = run_with_store(
        settings,
        lambda store: store.login_events.export(args.since, args.account, args.client),
    )
    for event in events:
        print(json.dumps({**dataclasses.asdict(event), "at": _iso(event.at)}))
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    error_id = args.error_id.strip().lower()
    if not error_id.isalnum():
        raise ConfigError(f"not an error id: {args.error_id!r}")
    events = run_with_store(settings, lambda store: store.error_events.find(error_id))
    if not events:
        print(
            f"sote-broker: no error {error_id} (unknown, past audit.error_retention_days, or a "
            "rate-limited refusal, which only the log has)",
            file=sys.stderr,
        )
        return 1
    for event in events:
        print(json.dumps(_fields(event)) if args.json else _text(event))
    return 0


def _fields(event: ErrorEvent) -> dict[str, Any]:
    return {**dataclasses.asdict(event), "at": _iso(event.at)}


def _text(event: ErrorEvent) -> str:
    labels = {
        "error_id": "error id",
        "at": "time",
        "path": "path",
        "status": "status",
        "error": "error",
        "message_id": "message",
        "client_id": "portal",
        "idp_id": "IdP",
        "request_id": "request id",
        "login_ref": "login",
    }
    found = _fields(event)
    return "\n".join(f"{label:<11} {found[name] or '-'}" for name, label in labels.items())
