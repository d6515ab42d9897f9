"""HTML pages: the login form, messages (errors, logged out) and an index of the issuers.

Pages are never cached and never framed: the login form carries a CSRF token and, in a mock, the
passwords of the test users.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from mock_idps.oidc_idp.config import Organisation
from mock_idps.oidc_idp.texts import TEXTS

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}


class Pages:
    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(
        self, template: str, locale: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self._env.get_template(template).render(locale=locale, t=TEXTS[locale], **context)
        return HTMLResponse(html, status_code=status_code, headers=_HEADERS)

    def login(
        self,
        org: Organisation,
        locale: str,
        *,
        action: str,
        client_id: str,
        sealed_request: str,
        csrf_token: str,
        username: str = "",
        error: str | None = None,
        languages: Sequence[tuple[str, str, str]] = (),
    ) -> HTMLResponse:
        return self.render(
            "login.html",
            locale,
            title=TEXTS[locale]["title"].format(org=org.short_name),
            org_name=org.display_name(locale),
            users=org.users,
            action=action,
            client_id=client_id,
            sealed_request=sealed_request,
            csrf_token=csrf_token,
            username=username,
            error=error,
            languages=languages,
        )

    def message(
        self, locale: str, title: str, message: str, *, is_error: bool, status_code: int = 200
    ) -> HTMLResponse:
        return self.render(
            "message.html", locale, status_code, title=title, message=message, is_error=is_error
        )

    def error(self, locale: str, reason: str, status_code: int = 400) -> HTMLResponse:
        text = TEXTS[locale]
        message = text["bad_request"].format(reason=reason)
        return self.message(
            locale, text["error_title"], message, is_error=True, status_code=status_code
        )
