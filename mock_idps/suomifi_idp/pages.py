"""HTML pages: the picker, the auto-submitting POST to the SP's ACS, and messages.

Never cached, never framed; the only script is the POST page's one line, allowed by a nonce.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from mock_idps.suomifi_idp.methods import Method
from mock_idps.suomifi_idp.persons import Person
from mock_idps.suomifi_idp.texts import TEXTS

_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def _headers(script_nonce: str | None = None) -> dict[str, str]:
    csp = _CSP + (f"; script-src 'nonce-{script_nonce}'" if script_nonce else "")
    return {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": csp,
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
        self,
        template: str,
        locale: str,
        status_code: int = 200,
        script_nonce: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        text = TEXTS[locale]
        context.setdefault("title", text["title"])
        html = self._env.get_template(template).render(locale=locale, t=text, **context)
        return HTMLResponse(html, status_code=status_code, headers=_headers(script_nonce))

    def picker(
        self,
        locale: str,
        *,
        action: str,
        sp_entity_id: str,
        sealed: str,
        csrf_token: str,
        persons: Sequence[Person],
        languages: Sequence[tuple[str, str, str]],
        error: str | None = None,
    ) -> HTMLResponse:
        return self.render(
            "picker.html",
            locale,
            200 if error is None else 400,
            action=action,
            sp_entity_id=sp_entity_id,
            sealed=sealed,
            csrf_token=csrf_token,
            methods=[(m.value, m.info.loa) for m in Method],
            persons=persons,
            languages=languages,
            error=error,
        )

    def post_to_sp(
        self, locale: str, acs_url: str, saml_response: str, relay_state: str | None
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        return self.render(
            "post.html",
            locale,
            script_nonce=nonce,
            nonce=nonce,
            acs_url=acs_url,
            saml_response=saml_response,
            relay_state=relay_state,
        )

    def message(self, locale: str, message: str, *, is_error: bool = False) -> HTMLResponse:
        text = TEXTS[locale]
        title = text["error_title"] if is_error else text["title"]
        status = 400 if is_error else 200
        return self.render(
            "message.html", locale, status, title=title, message=message, is_error=is_error
        )

    def error(self, locale: str, reason: str) -> HTMLResponse:
        return self.message(
            locale, TEXTS[locale]["bad_request"].format(reason=reason), is_error=True
        )
