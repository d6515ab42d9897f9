"""Every word the mock shows a person, in Finnish, Swedish and English: the login page speaks as
the mock OIDC organisations' does (`mock_idps.oidc_idp.texts`), plus what SAML needs.

Pages say MOCK in their title and in a banner: never type real work credentials into them.
"""

from __future__ import annotations

from mock_idps.oidc_idp.texts import LANGUAGE_NAMES
from mock_idps.oidc_idp.texts import TEXTS as _LOGIN_TEXTS

__all__ = ["LANGUAGE_NAMES", "LOCALES", "TEXTS"]

LOCALES = ("fi", "sv", "en")

_SAML_TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "MOCK-organisaatiotunnistus (SAML)",
        "redirecting": "Palaat palveluun…",
        "continue": "Jatka",
        "unknown_org": "Tuntematon organisaatio.",
        "entity_id": "Entiteetin tunnus",
        "metadata": "Metatiedot",
    },
    "sv": {
        "title": "MOCK-organisationsidentifiering (SAML)",
        "redirecting": "Du återvänder till tjänsten…",
        "continue": "Fortsätt",
        "unknown_org": "Okänd organisation.",
        "entity_id": "Entitets-id",
        "metadata": "Metadata",
    },
    "en": {
        "title": "MOCK organisation identification (SAML)",
        "redirecting": "Returning to the service…",
        "continue": "Continue",
        "unknown_org": "Unknown organisation.",
        "entity_id": "Entity id",
        "metadata": "Metadata",
    },
}

# `login_title` is the OIDC mock's page title, "{org} — test login (MOCK)".
TEXTS = {
    locale: {**_LOGIN_TEXTS[locale], "login_title": _LOGIN_TEXTS[locale]["title"], **saml}
    for locale, saml in _SAML_TEXTS.items()
}
