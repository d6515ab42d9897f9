"""HTML pages in the user's language: one Jinja2 environment per locale, built at start-up.

Each environment has its locale's gettext installed (newstyle, so `_("key", name=value)` escapes
`value`), autoescaping on and `StrictUndefined`, so a missing variable or message id fails loudly
in tests instead of showing a blank or a dotted key to a person.

Templates always see `locale`, `locales`, `static_url` and `branding` (the deployment's logo,
colours and support contact). The language switch is drawn from
`lang_links`, a list of `(locale, label, url)` given by the caller (see `language_links`); without
it no switch is shown. URLs given to templates (`action`, `back_url`, `cancel_url`, `lang_links`)
must already be validated: escaping makes them safe in an attribute, not safe to follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from jinja2 import Environment, PackageLoader, StrictUndefined

from broker import paths
from broker.branding import BrandingSettings
from broker.ui.i18n import LOCALES, Messages, load_messages

LangLinks = list[tuple[str, str, str]]


class Renderer:
    """Renders the templates under `broker/ui/templates/` in any of `LOCALES`."""

    def __init__(
        self, static_url: str = paths.STATIC, branding: BrandingSettings | None = None
    ) -> None:
        loader = PackageLoader("broker.ui", "templates")
        self._messages = {locale: load_messages(locale) for locale in LOCALES}
        self._environments = {
            locale: _build_environment(loader, messages, static_url.rstrip("/"))
            for locale, messages in self._messages.items()
        }
        for environment in self._environments.values():
            environment.globals["branding"] = branding or BrandingSettings()

    def render(self, template: str, locale: str, **context: object) -> str:
        """Render `template` in `locale`; `lang_links` defaults to no language switch."""
        environment = self._environments.get(locale)
        if environment is None:
            raise ValueError(f"unsupported locale {locale!r}")
        return environment.get_template(template).render({"lang_links": [], **context})

    def text(self, locale: str, message_id: str, **values: object) -> str:
        """A message outside a page (an e-mail), with `%(name)s` placeholders filled."""
        return self._messages[locale].gettext(message_id) % values

    def language_links(self, url_for: Callable[[str], str]) -> LangLinks:
        """`lang_links` for every locale, each labelled in its own language ("På svenska")."""
        return [
            (locale, self._messages[locale].gettext(f"lang.{locale}"), url_for(locale))
            for locale in LOCALES
        ]


def _build_environment(loader: PackageLoader, messages: Messages, static_url: str) -> Environment:
    """A strict, autoescaping environment with the gettext of `messages` installed."""
    environment = Environment(
        loader=loader,
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # The i18n extension adds this method at run time, so the type checker cannot see it.
    cast(Any, environment).install_gettext_callables(
        messages.gettext, messages.ngettext, newstyle=True
    )
    environment.globals.update(locale=messages.locale, locales=LOCALES, static_url=static_url)
    return environment
