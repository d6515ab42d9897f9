"""The pages people see: language negotiation, catalogues (fi, sv, en) and HTML templates."""

from broker.ui.i18n import LOCALES, negotiate_locale
from broker.ui.render import Renderer

__all__ = ["LOCALES", "Renderer", "negotiate_locale"]
