"""Rendering: Jinja2 templates (autoescaped), the language choice and the CSRF token."""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mock_idps.demo_portal.texts import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, texts

TEMPLATES = Path(__file__).parent / "templates"
RELOADABLE_PATHS = ("/", "/me", "/profile")
TIME_CLAIMS = frozenset({"iat", "exp", "auth_time", "nbf", "updated_at"})


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def session_of(request: Request) -> dict[str, Any]:
    """The signed cookie session, or an empty one where SessionMiddleware did not run."""
    session = request.scope.get("session")
    return session if isinstance(session, dict) else {}


def language(request: Request) -> str:
    """`?lang=` switches the language and is remembered in the session; Finnish by default."""
    session = session_of(request)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and "session" in request.scope:
        session["lang"] = chosen
    current = session.get("lang")
    return current if current in LANGUAGES else DEFAULT_LANGUAGE


def csrf_token(request: Request) -> str:
    session = session_of(request)
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    expected = session_of(request).get("csrf")
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    environment: jinja2.Environment = request.app.state.portal.templates
    lang = language(request)
    here = request.url.path if request.url.path in RELOADABLE_PATHS else "/"
    html = environment.get_template(name).render(
        t=texts(lang),
        lang=lang,
        languages=[(code, LANGUAGE_NAMES[code], f"{here}?lang={code}") for code in LANGUAGES],
        csrf_token=csrf_token(request) if "session" in request.scope else "",
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def claim_rows(claims: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Claims as (name, text) rows for a table, sorted; times also in UTC, structures as JSON."""
    return [(name, display_value(name, claims[name])) for name in sorted(claims)]


def display_value(name: str, value: Any) -> str:
    if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        except (OverflowError, ValueError, OSError):
            return str(value)
        return f"{value} ({moment:%Y-%m-%d %H:%M:%S} UTC)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
