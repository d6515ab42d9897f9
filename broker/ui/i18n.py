"""Languages of the user interface: choosing one per request and loading its catalogue.

The catalogues are the committed gettext files `translations/<locale>/LC_MESSAGES/messages.po`.
They are read with Babel and compiled in memory at start-up, so there is no compile step and no
`.mo` file to forget. Message ids are stable dotted keys (`error.csrf.title`), not English text,
so changing a wording never orphans a translation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from io import BytesIO

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations

from broker.errors import ConfigError

LOCALES = ("fi", "sv", "en")
DEFAULT_LOCALE = "fi"
DOMAIN = "messages"


class MissingMessageError(LookupError):
    """A message id that the catalogue does not define: a bug, refused like a strict undefined."""


def negotiate_locale(
    ui_locales: str | None, cookie: str | None, accept_language: str | None
) -> str:
    """Choose the page language.

    Order: the `cookie` (the user's own choice from the language switch) > OIDC `ui_locales`
    (the portal's hint, space-separated BCP 47 tags) > `Accept-Language` by q-value > "fi".
    Regional tags count for their language ("sv-FI" is "sv"); unsupported ones are skipped.
    """
    candidates = [cookie or "", *(ui_locales or "").split(), *_ranked_tags(accept_language or "")]
    for tag in candidates:
        locale = _supported(tag)
        if locale is not None:
            return locale
    return DEFAULT_LOCALE


def _supported(tag: str) -> str | None:
    """The supported locale a language tag names, by its primary subtag, or None."""
    primary = tag.strip().replace("_", "-").partition("-")[0].lower()
    return primary if primary in LOCALES else None


def _ranked_tags(header: str) -> list[str]:
    """Accept-Language tags, most preferred first; equal q-values keep the header's order."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.partition(";")
        quality = _quality(params)
        if quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def _quality(params: str) -> float:
    """The q-value in a language range's parameters (RFC 9110 §12.4.2); malformed counts as 0."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return quality if math.isfinite(quality) and 0 <= quality <= 1 else 0.0
    return 1.0


@dataclass(frozen=True)
class Messages:
    """One locale's compiled catalogue, refusing ids it does not define."""

    locale: str
    translations: Translations
    ids: frozenset[str]

    def gettext(self, message_id: str) -> str:
        """The translation of `message_id`; an unknown id raises instead of showing the key."""
        self._require(message_id)
        return self.translations.gettext(message_id)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The plural form of `singular` for `n`; an unknown id raises."""
        self._require(singular)
        return self.translations.ngettext(singular, plural, n)

    def _require(self, message_id: str) -> None:
        if message_id not in self.ids:
            raise MissingMessageError(f"no message {message_id!r} in the {self.locale} catalogue")


def load_catalogue(locale: str) -> Catalog:
    """Parse the committed `.po` file of `locale`; a syntax error stops start-up."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    path = resources.files("broker.ui") / "translations" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        with path.open("rb") as fileobj:
            return read_po(fileobj, locale=locale, domain=DOMAIN, abort_invalid=True)
    except (OSError, PoFileError) as exc:
        raise ConfigError(f"{path}: cannot read the {locale} catalogue: {exc}") from exc


def load_messages(locale: str) -> Messages:
    """Compile the catalogue of `locale` in memory into gettext translations."""
    catalogue = load_catalogue(locale)
    buffer = BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    translations = Translations(fp=buffer, domain=DOMAIN)
    ids = frozenset(_singular(message.id) for message in catalogue if _compiled(message))
    return Messages(locale=locale, translations=translations, ids=ids)


def _compiled(message: Message) -> bool:
    """Whether `write_mo` keeps `message`: translated, not fuzzy and not the header."""
    return bool(message.id and message.string and not message.fuzzy)


def _singular(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
