"""The committed catalogues: complete, translated, and consistent across fi, sv and en."""

import re

import pytest
from babel.messages.catalog import Catalog

from broker import errors
from broker.ui import LOCALES
from broker.ui.i18n import load_catalogue

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
ERROR_IDS = [
    "error.generic",
    "error.untrusted_request",
    "error.transaction",
    "error.csrf",
    "error.logout_request",
    "error.not_found",
    "error.server",
    "error.login_unavailable",
]


def _messages(catalogue: Catalog) -> dict[str, str]:
    return {str(message.id): str(message.string) for message in catalogue if message.id}


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, str]]:
    return {locale: _messages(load_catalogue(locale)) for locale in LOCALES}


def test_every_key_is_in_every_catalogue(catalogues: dict[str, dict[str, str]]) -> None:
    keys = {locale: set(messages) for locale, messages in catalogues.items()}
    every = set.union(*keys.values())
    missing = {locale: sorted(every - own) for locale, own in keys.items() if every - own}
    assert not missing


def test_no_message_is_empty(catalogues: dict[str, dict[str, str]]) -> None:
    empty = [
        (locale, key) for locale, m in catalogues.items() for key, text in m.items() if not text
    ]
    assert not empty


@pytest.mark.parametrize("locale", LOCALES)
def test_no_message_is_fuzzy_or_obsolete(locale: str) -> None:
    catalogue = load_catalogue(locale)
    assert not [message.id for message in catalogue if message.id and message.fuzzy]
    assert not catalogue.obsolete


def test_placeholders_match_across_locales(catalogues: dict[str, dict[str, str]]) -> None:
    for key, english in catalogues["en"].items():
        expected = set(PLACEHOLDER.findall(english))
        for locale in LOCALES:
            text = catalogues[locale][key]
            assert set(PLACEHOLDER.findall(text)) == expected, (locale, key)
            text % dict.fromkeys(expected, "x")  # newstyle gettext always %-formats


def test_messages_hold_no_markup(catalogues: dict[str, dict[str, str]]) -> None:
    """Translations are trusted as Markup by Jinja, so keep HTML out of them entirely."""
    marked = [(loc, key) for loc, m in catalogues.items() for key, text in m.items() if "<" in text]
    assert not marked


@pytest.mark.parametrize("message_id", ERROR_IDS)
def test_error_pages_have_title_and_message(
    catalogues: dict[str, dict[str, str]], message_id: str
) -> None:
    for locale in LOCALES:
        assert f"{message_id}.title" in catalogues[locale]
        assert f"{message_id}.message" in catalogues[locale]


def _page_error_ids() -> set[str]:
    found: set[str] = set()
    pending: list[type[errors.PageError]] = [errors.PageError]
    while pending:
        cls = pending.pop()
        found.add(cls.message_id)
        pending.extend(cls.__subclasses__())
    return found


def test_every_page_error_has_a_page(catalogues: dict[str, dict[str, str]]) -> None:
    """A PageError whose message_id has no text would break its own error page."""
    missing = sorted(
        f"{message_id}.{part}"
        for message_id in _page_error_ids()
        for part in ("title", "message")
        if f"{message_id}.{part}" not in catalogues["fi"]
    )
    assert not missing


def test_language_names_are_their_own(catalogues: dict[str, dict[str, str]]) -> None:
    names = {"lang.fi": "Suomeksi", "lang.sv": "På svenska", "lang.en": "In English"}
    for messages in catalogues.values():
        assert {key: messages[key] for key in names} == names
