"""The Renderer: strictness, escaping, the language switch and the shared context."""

import pytest
from jinja2 import UndefinedError

from broker.ui import LOCALES, Renderer
from broker.ui.i18n import MissingMessageError


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _error_page(renderer: Renderer, locale: str = "fi", **context: object) -> str:
    defaults: dict[str, object] = {
        "title_key": "error.generic.title",
        "message_key": "error.generic.message",
        "error_id": "e-1",
    }
    return renderer.render("error.html", locale, **{**defaults, **context})


def test_unsupported_locale_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="de"):
        _error_page(renderer, "de")


def test_missing_context_fails_loudly(renderer: Renderer) -> None:
    with pytest.raises(UndefinedError, match="error_id"):
        renderer.render(
            "error.html", "fi", title_key="error.csrf.title", message_key="error.csrf.message"
        )


def test_unknown_message_key_fails_loudly(renderer: Renderer) -> None:
    with pytest.raises(MissingMessageError, match=r"error\.bogus\.title"):
        _error_page(renderer, title_key="error.bogus.title")


def test_user_values_are_escaped(renderer: Renderer) -> None:
    html = renderer.render(
        "logout_confirm.html",
        "en",
        action='/logout?a=1&b="2"',
        csrf_token='"><script>alert(1)</script>',
        client_name="<script>alert(1)</script>",
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'action="/logout?a=1&amp;b=&#34;2&#34;"' in html


def test_error_id_is_escaped(renderer: Renderer) -> None:
    html = _error_page(renderer, error_id="<b>x</b>", back_url="javascript:'\"")
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="javascript:&#39;&#34;"' in html


def test_no_language_switch_without_lang_links(renderer: Renderer) -> None:
    html = _error_page(renderer)
    assert "lang-switch" not in html
    assert "Suomeksi" not in html


def test_language_switch_links_other_locales(renderer: Renderer) -> None:
    links = renderer.language_links(lambda locale: f"/lang/{locale}?next=%2F&x=1")
    html = _error_page(renderer, "sv", lang_links=links)
    assert '<nav class="lang-switch" aria-label="Språkval">' in html
    assert '<a href="/lang/fi?next=%2F&amp;x=1" lang="fi" hreflang="fi">Suomeksi</a>' in html
    assert '<a href="/lang/en?next=%2F&amp;x=1" lang="en" hreflang="en">In English</a>' in html
    assert 'lang="sv" aria-current="true">På svenska</span>' in html
    assert 'href="/lang/sv' not in html


def test_language_links_label_each_locale_in_itself(renderer: Renderer) -> None:
    links = renderer.language_links(lambda locale: f"?ui_locales={locale}")
    assert links == [
        ("fi", "Suomeksi", "?ui_locales=fi"),
        ("sv", "På svenska", "?ui_locales=sv"),
        ("en", "In English", "?ui_locales=en"),
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_shared_context(renderer: Renderer, locale: str) -> None:
    html = _error_page(renderer, locale)
    assert f'<html lang="{locale}">' in html
    assert '<link rel="stylesheet" href="/static/style.css">' in html


def test_static_url_is_configurable() -> None:
    html = _error_page(Renderer(static_url="/broker/static/"))
    assert 'href="/broker/static/style.css"' in html
