"""HTML pages every mock SAML IdP needs: the frame with its MOCK banner, messages, and the
auto-submitting POST of the Response to the SP's ACS. A mock adds its own login page.

Never cached, never framed; the only script is the POST page's one line, allowed by a nonce.
Templates are looked up in the mock's own directory first, then in `saml_common/templates`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
_SHARED_TEMPLATES = Path(__file__).parent / "templates"


def _headers(script_nonce: str | None = None) -> dict[str, str]:
    csp = _CSP + (f"; script-src 'nonce-{script_nonce}'" if script_nonce else "")
    return {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
    }


class Pages:
    """Renders with `texts[locale]` as `t`; the texts need `title`, `banner`, `redirecting`,
    `continue`, `error_title` and `bad_request` (with `{reason}`)."""

    def __init__(self, templates: Path, texts: Mapping[str, Mapping[str, str]]) -> None:
        self.texts = texts
        loaders = [jinja2.FileSystemLoader(templates), jinja2.FileSystemLoader(_SHARED_TEMPLATES)]
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
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
        text = self.texts[locale]
        context.setdefault("title", text["title"])
        html = self._env.get_template(template).render(locale=locale, t=text, **context)
        return HTMLResponse(html, status_code=status_code, headers=_headers(script_nonce))

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

    def message(
        self, locale: str, message: str, *, is_error: bool = False, title: str | None = None
    ) -> HTMLResponse:
        text = self.texts[locale]
        title = title or (text["error_title"] if is_error else text["title"])
        status = 400 if is_error else 200
        return self.render(
            "message.html", locale, status, title=title, message=message, is_error=is_error
        )

    def error(self, locale: str, reason: str) -> HTMLResponse:
        return self.message(
            locale, self.texts[locale]["bad_request"].format(reason=reason), is_error=True
        )
