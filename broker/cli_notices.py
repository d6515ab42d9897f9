"""`sote-broker notices add|list|end`: disruption notices on the whole service, a route or one
organisation, kept in the store, so that every broker process and replica shows them within its
cache time (settings `notices.cache_seconds`) without a restart. Notices in the settings file
(`notices.configured`) are listed too; they end by editing the file."""

from __future__ import annotations

import argparse
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from broker.assembly import load_idps
from broker.cli_store import run_with_store
from broker.errors import ConfigError
from broker.notices.board import from_settings
from broker.settings import Settings
from broker.store.base import Store
from broker.store.notices import NoticeRecord


def add_parsers(commands: Any) -> None:
    notices = commands.add_parser("notices", help="disruption notices (docs/operating.md)")
    actions = notices.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="set a notice; prints its id")
    add.add_argument("--scope", choices=["service", "route", "organisation"], default="service")
    add.add_argument("--target", default="", help="the route or organisation (IdP) id")
    add.add_argument("--severity", choices=["info", "severe"], default="info")
    for lang in ("fi", "sv", "en"):
        add.add_argument(f"--{lang}", required=True, help=f"the text in {lang}")
    add.add_argument("--start", help="ISO 8601 time with zone (default: now)")
    ends = add.add_mutually_exclusive_group()
    ends.add_argument("--end", help="ISO 8601 time with zone (default: until ended)")
    ends.add_argument("--minutes", type=float, help="ends this many minutes after it starts")
    add.add_argument(
        "--offline", action="store_true", help="the route or organisation is not offered"
    )
    add.set_defaults(func=_add)
    listing = actions.add_parser("list", help="notices current or scheduled")
    listing.add_argument("--all", action="store_true", help="ended ones too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    end = actions.add_parser("end", help="end a notice now")
    end.add_argument("notice_id")
    end.set_defaults(func=_end)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    _check_target(settings, args.scope, args.target, offline=args.offline)
    now = time.time()
    starts = _moment(args.start, "--start") if args.start else now
    ends = _moment(args.end, "--end") if args.end else None
    if args.minutes is not None:
        ends = starts + args.minutes * 60
    if ends is not None and ends <= starts:
        raise ConfigError("--end: must be after the start")
    texts = {lang: getattr(args, lang).strip() for lang in ("fi", "sv", "en")}
    if not all(texts.values()):
        raise ConfigError("--fi, --sv, --en: a text in each language")
    notice = NoticeRecord(
        notice_id="n-" + secrets.token_hex(4),
        scope=args.scope,
        target=args.target,
        severity=args.severity,
        texts=texts,
        starts_at=starts,
        ends_at=ends,
        offline=args.offline,
        source="operator",
        created_at=now,
    )

    async def add(store: Store) -> None:
        await store.notices.put(notice)

    run_with_store(settings, add)
    print(notice.notice_id)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def listed(store: Store) -> list[NoticeRecord]:
        return await (store.notices.all() if args.all else store.notices.active(time.time()))

    found = run_with_store(settings, listed)
    found += [from_settings(c) for c in settings.notices.configured]
    if args.json:
        print(json.dumps([_row(n) for n in found], indent=2, ensure_ascii=False))
        return 0
    for n in found:
        row = _row(n)
        where = f"{n.scope}:{n.target}" if n.target else n.scope
        flags = " offline" if n.offline else ""
        print(f"{n.notice_id}\t{where}\t{n.severity}{flags}\t{row['starts']} .. {row['ends']}")
        print(f"\t{n.texts.get('fi', '')}")
    return 0


def _end(settings: Settings, args: argparse.Namespace) -> int:
    if args.notice_id.startswith("config:"):
        raise ConfigError(f"{args.notice_id}: in the settings file; remove it there")

    async def end(store: Store) -> bool:
        return await store.notices.end(args.notice_id, time.time())

    if not run_with_store(settings, end):
        raise ConfigError(f"{args.notice_id}: no such notice in force")
    print(f"ended {args.notice_id}")
    return 0


def _check_target(settings: Settings, scope: str, target: str, *, offline: bool) -> None:
    if scope == "service":
        if target:
            raise ConfigError("--target: not for --scope service")
        if offline:
            raise ConfigError("--offline: only a route or an organisation can be taken offline")
        return
    registry = load_idps(settings)
    known = (
        {r.id for r in registry.journey.routes}
        if scope == "route"
        else {i.id for i in registry.idps()}
    )
    if target not in known:
        raise ConfigError(f"--target: no {scope} {target!r} (known: {', '.join(sorted(known))})")


def _moment(text: str, option: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"{option}: give a time zone (e.g. 2026-04-01T08:00+03:00)")
    return moment.timestamp()


def _row(notice: NoticeRecord) -> dict[str, Any]:
    return {
        "id": notice.notice_id,
        "scope": notice.scope,
        "target": notice.target,
        "severity": notice.severity,
        "offline": notice.offline,
        "source": notice.source,
        "texts": notice.texts,
        "starts": _iso(notice.starts_at),
        "ends": _iso(notice.ends_at) if notice.ends_at is not None else "",
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
