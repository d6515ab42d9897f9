"""Choosing the page language: cookie > ui_locales > Accept-Language > fi."""

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError

from broker.errors import ConfigError
from broker.ui import LOCALES, i18n, negotiate_locale
from broker.ui.i18n import MissingMessageError, load_messages


@pytest.mark.parametrize(
    ("ui_locales", "cookie", "accept_language", "expected"),
    [
        (None, None, None, "fi"),
        ("", "", "", "fi"),
        ("sv", None, None, "sv"),
        ("sv-FI en", None, None, "sv"),
        ("de en", None, None, "en"),
        ("de fr", None, "sv", "sv"),
        ("EN-gb", None, None, "en"),
        ("sv_FI", None, None, "sv"),
        (None, "en", None, "en"),
        ("sv", "en", "fi", "en"),
        (None, "de", "sv", "sv"),
        ("sv", "not-a-locale", None, "sv"),
        (None, None, "sv-FI", "sv"),
        (None, None, "de-DE, sv;q=0.5, en;q=0.9", "en"),
        (None, None, "en;q=0.1, sv;q=0.8, fi;q=0.5", "sv"),
        (None, None, "en, sv", "en"),
        (None, None, "sv;q=0, en;q=0.2", "en"),
        (None, None, "sv;q=abc, en;q=0.2", "en"),
        (None, None, "sv;q=2, en;q=0.2", "en"),
        (None, None, "sv;q=nan, en;q=0.2", "en"),
        (None, None, "de, *;q=0.5", "fi"),
        (None, None, "en; Q=0.5, sv;level=1", "sv"),
        (None, None, ",,;;=,", "fi"),
    ],
)
def test_negotiate_locale(
    ui_locales: str | None, cookie: str | None, accept_language: str | None, expected: str
) -> None:
    assert negotiate_locale(ui_locales, cookie, accept_language) == expected


def test_locales_and_default() -> None:
    assert LOCALES == ("fi", "sv", "en")
    assert negotiate_locale(None, None, "de") == LOCALES[0]


def test_messages_translate_known_ids() -> None:
    assert load_messages("sv").gettext("error.id_label") == "Fel-id:"


def test_messages_refuse_unknown_ids() -> None:
    messages = load_messages("fi")
    with pytest.raises(MissingMessageError, match=r"error\.nonexistent\.title"):
        messages.gettext("error.nonexistent.title")
    with pytest.raises(MissingMessageError):
        messages.ngettext("error.nonexistent", "error.nonexistents", 2)


def test_load_messages_refuses_unsupported_locale() -> None:
    with pytest.raises(ValueError, match="de"):
        load_messages("de")


def test_broken_catalogue_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise PoFileError("syntax error", Catalog(), "msgid", 3)

    monkeypatch.setattr(i18n, "read_po", broken)
    with pytest.raises(ConfigError, match=r"messages\.po: cannot read the fi catalogue"):
        i18n.load_catalogue("fi")
