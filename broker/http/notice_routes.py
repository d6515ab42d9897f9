"""`/notices.json`: the notices in force, for portals to show on their own pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker import paths
from broker.http.context import broker
from broker.store.notices import NoticeRecord


async def notices_json(request: Request) -> Response:
    """Only current notices, each in every language; nothing of where it came from. Public
    (anyone may read what the choice pages show), so any origin may fetch it."""
    ctx = broker(request)
    current = await ctx.journey.current_notices()
    body = {"notices": [_public(n) for n in current.for_all()]}
    max_age = int(ctx.settings.notices.cache_seconds)
    headers = {"Cache-Control": f"public, max-age={max_age}", "Access-Control-Allow-Origin": "*"}
    return JSONResponse(body, headers=headers)


def _public(notice: NoticeRecord) -> dict[str, Any]:
    return {
        "id": notice.notice_id,
        "scope": notice.scope,
        "target": notice.target or None,
        "severity": notice.severity,
        "offline": notice.offline,
        "text": {lang: notice.texts.get(lang, "") for lang in ("fi", "sv", "en")},
        "starts_at": _time(notice.starts_at),
        "ends_at": None if notice.ends_at is None else _time(notice.ends_at),
    }


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


ROUTES = [Route(paths.NOTICES_JSON, notices_json, methods=["GET"])]
