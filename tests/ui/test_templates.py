"""Every page renders in fi, sv and en with its documented context, in that language, accessibly."""

from html.parser import HTMLParser

import pytest

from broker.journey.steps import Option
from broker.ui import LOCALES, Renderer

SERVICE = {
    "fi": "Ammattilaisten tunnistautuminen",
    "sv": "Identifiering för yrkespersoner",
    "en": "Identification for professionals",
}
ERROR_ID = {"fi": "Virhetunnus:", "sv": "Fel-id:", "en": "Error id:"}


class Page(HTMLParser):
    """The facts about a page that the accessibility checks need."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _links(renderer: Renderer) -> list[tuple[str, str, str]]:
    return renderer.language_links(lambda locale: f"/lang?set={locale}")


def _assert_accessible(html: str, locale: str) -> Page:
    page = Page(html)
    assert html.startswith("<!doctype html>")
    assert page.all("html") == [{"lang": locale}]
    assert len(page.all("h1")) == 1
    assert any(attrs.get("name") == "viewport" for attrs in page.all("meta"))
    # Scripts only as static files (the CSP's script-src 'self'), never inline.
    assert all((s.get("src") or "").startswith("/static/") for s in page.all("script"))
    assert [a["href"] for a in page.all("link")] == ["/static/style.css"]
    inputs = [a for a in page.all("input") if a.get("type") != "hidden"]
    labelled = {attrs.get("for") for attrs in page.all("label")}
    assert all(attrs.get("id") in labelled for attrs in inputs)
    assert SERVICE[locale] in html
    return page


@pytest.mark.parametrize("locale", LOCALES)
def test_error_page(renderer: Renderer, locale: str) -> None:
    html = renderer.render(
        "error.html",
        locale,
        title_key="error.transaction.title",
        message_key="error.transaction.message",
        error_id="7f3a9c",
        back_url="https://portal.example/",
        lang_links=_links(renderer),
    )
    page = _assert_accessible(html, locale)
    expected = {
        "fi": "Kirjautuminen on vanhentunut",
        "sv": "Inloggningen har gått ut",
        "en": "Your login has expired",
    }
    assert f"<h1>{expected[locale]}</h1>" in html
    assert f"{ERROR_ID[locale]} <code>7f3a9c</code>" in html
    assert {"class": "button", "href": "https://portal.example/"} in page.all("a")


def test_error_page_without_back_url(renderer: Renderer) -> None:
    html = renderer.render(
        "error.html",
        "en",
        title_key="error.server.title",
        message_key="error.server.message",
        error_id="x1",
    )
    assert "Back to the service" not in html
    assert "quote the error id below" in html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", ["role", "route", "group", "organisation"])
def test_journey_choice_page(renderer: Renderer, locale: str, step: str) -> None:
    html = renderer.render(
        "choice.html",
        locale,
        step=step,
        options=[Option("a", "<Option A>", "Description"), Option("b", "Option B")],
        action=f"/login/{step}",
        csrf_token="csrf-123",
        tx="tx-456",
        back_url="/login/role",
        remembered="HUS" if step == "role" else None,
        email_shortcut=step == "group",
        email_error=False,
        email_value="",
        lang_links=_links(renderer),
    )
    page = _assert_accessible(html, locale)
    assert "&lt;Option A&gt;" in html
    buttons = [attrs for attrs in page.all("button") if attrs.get("name") == "choice"]
    assert [b["value"] for b in buttons] == ["a", "b"]
    assert {"method": "post", "action": f"/login/{step}"} in page.all("form")
    assert ('id="remember"' in html) == (step == "organisation")
    assert ('action="/login/email"' in html) == (step == "group")
    assert ('action="/login/remembered"' in html) == (step == "role")


@pytest.mark.parametrize("locale", LOCALES)
def test_logout_confirm_page(renderer: Renderer, locale: str) -> None:
    html = renderer.render(
        "logout_confirm.html",
        locale,
        action="/end_session",
        csrf_token="csrf-123",
        client_name="Omasote",
        cancel_url="https://portal.example/",
    )
    page = _assert_accessible(html, locale)
    question = {
        "fi": "Haluatko kirjautua ulos tunnistautumispalvelusta?",
        "sv": "Vill du logga ut från identifieringstjänsten?",
        "en": "Do you want to log out of the identification service?",
    }
    cancel = {"fi": "Peruuta", "sv": "Avbryt", "en": "Cancel"}
    assert question[locale] in html
    assert "Omasote" in html
    assert {"type": "hidden", "name": "csrf_token", "value": "csrf-123"} in page.all("input")
    assert f'href="https://portal.example/">{cancel[locale]}</a>' in html


def test_logout_confirm_page_minimal(renderer: Renderer) -> None:
    html = renderer.render("logout_confirm.html", "sv", action="/end_session", csrf_token="c")
    assert "Tjänsten" not in html
    assert "Avbryt" not in html
    assert ">Logga ut</button>" in html


@pytest.mark.parametrize("locale", LOCALES)
def test_logged_out_page(renderer: Renderer, locale: str) -> None:
    html = renderer.render("logged_out.html", locale, client_name="Omasote")
    _assert_accessible(html, locale)
    title = {"fi": "Olet kirjautunut ulos", "sv": "Du har loggat ut", "en": "You have logged out"}
    assert f"<h1>{title[locale]}</h1>" in html
    assert "Omasote" in html


def test_logged_out_page_without_client(renderer: Renderer) -> None:
    html = renderer.render("logged_out.html", "fi")
    assert "Uloskirjautumista pyysi" not in html


@pytest.mark.parametrize("message_id", ["error.csrf", "error.untrusted_request", "error.server"])
def test_error_pages_differ_by_language(renderer: Renderer, message_id: str) -> None:
    pages = {
        renderer.render(
            "error.html",
            locale,
            title_key=f"{message_id}.title",
            message_key=f"{message_id}.message",
            error_id="x",
        )
        for locale in LOCALES
    }
    assert len(pages) == len(LOCALES)
