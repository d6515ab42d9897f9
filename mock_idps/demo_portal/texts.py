"""The portal's words in Finnish (default), Swedish and English, and its profile form's choices.

A demo keeps its strings in plain dicts; the broker itself uses gettext catalogues.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("fi", "sv", "en")
DEFAULT_LANGUAGE: Final = "fi"
LANGUAGE_NAMES: Final = {"fi": "Suomi", "sv": "Svenska", "en": "English"}

TEXTS: Final[dict[str, dict[str, str]]] = {
    "fi": {
        "site_name": "Demoportaali (Mielenterveystalo-tyyppinen)",
        "site_tagline": "Ammattilaisille",
        "demo_badge": "DEMO",
        "demo_notice": (
            "Tämä on kehityskäyttöön tarkoitettu demoportaali. Se näyttää, mitä tunnistuksen "
            "välityspalvelu luovuttaa portaalille. Se ei ole Mielenterveystalo eikä sisällä "
            "oikeaa sisältöä."
        ),
        "skip_to_content": "Siirry sisältöön",
        "language_switch": "Kieli",
        "professionals_section": "Ammattilaisten osio",
        "front_intro": (
            "Ammattilaisten osion sisältö riippuu ammattiryhmästäsi. Kirjaudu sisään "
            "organisaatiosi tunnuksilla tai henkilökohtaisella tunnistautumisella."
        ),
        "login_button": "Kirjaudu palveluun",
        "logged_in_as": "Olet kirjautunut sisään nimellä",
        "my_details": "Omat tiedot",
        "not_logged_in": "Et ole kirjautunut sisään.",
        "logged_out_notice": "Olet kirjautunut ulos.",
        "logout_button": "Kirjaudu ulos",
        "me_title": "Omat tiedot",
        "subject": "Tunniste (sub)",
        "name": "Nimi",
        "id_token_claims": "ID-tunnisteen (ID token) väitteet",
        "userinfo_claims": "Käyttäjätietopalvelun (userinfo) väitteet",
        "claim": "Väite",
        "value": "Arvo",
        "portal_profile": "Portaalin käyttäjäprofiili",
        "edit_profile": "Muokkaa profiilia",
        "edit_account": "Muokkaa ammattilaistiliä (tunnistuspalvelussa)",
        "profile_title": "Käyttäjäprofiili",
        "profile_intro": (
            "Portaali tarvitsee kerran tiedon ammattiryhmästäsi: se ratkaisee, mitä sisältöä "
            "sinulle näytetään. Hyvinvointialueen valinta on vapaaehtoinen."
        ),
        "ammattiryhma": "Ammattiryhmä",
        "hyvinvointialue": "Hyvinvointialue",
        "required": "pakollinen",
        "optional": "vapaaehtoinen",
        "choose": "Valitse…",
        "no_choice": "Ei valintaa",
        "save": "Tallenna",
        "profile_error": "Valitse ammattiryhmä luettelosta.",
        "not_chosen": "Ei valittu",
        "error_title": "Kirjautuminen ei onnistunut",
        "page_error_title": "Toiminto ei onnistunut",
        "error_access_denied": "Kirjautuminen peruttiin tai sitä ei sallittu.",
        "error_login_required": "Kirjautuminen tunnistuspalvelussa vaaditaan. Kirjaudu uudelleen.",
        "error_unavailable": (
            "Tunnistuspalvelu ei juuri nyt vastaa. Yritä hetken kuluttua uudelleen."
        ),
        "error_expired": (
            "Kirjautuminen vanhentui tai se aloitettiin toisessa selainikkunassa. "
            "Aloita kirjautuminen uudelleen."
        ),
        "error_failed": "Kirjautumista ei voitu viimeistellä. Yritä uudelleen.",
        "error_csrf": "Lomake oli vanhentunut. Palaa sivulle ja yritä uudelleen.",
        "error_internal": "Portaalissa tapahtui virhe. Yritä uudelleen.",
        "error_code": "Virhekoodi",
        "error_details": "Lisätieto tunnistuspalvelulta",
        "reference": "Viite (kerro tämä tukipalvelulle)",
        "try_again": "Kirjaudu uudelleen",
        "back_home": "Etusivulle",
    },
    "sv": {
        "site_name": "Demoportal (i stil med Mielenterveystalo)",
        "site_tagline": "För yrkespersoner",
        "demo_badge": "DEMO",
        "demo_notice": (
            "Det här är en demoportal för utvecklingsbruk. Den visar vad "
            "identifieringsförmedlingen lämnar ut till en portal. Den är inte Mielenterveystalo "
            "och har inget riktigt innehåll."
        ),
        "skip_to_content": "Gå till innehållet",
        "language_switch": "Språk",
        "professionals_section": "Avsnitt för yrkespersoner",
        "front_intro": (
            "Innehållet i avsnittet för yrkespersoner beror på din yrkesgrupp. Logga in med din "
            "organisations användarnamn eller med personlig identifiering."
        ),
        "login_button": "Logga in i tjänsten",
        "logged_in_as": "Du är inloggad som",
        "my_details": "Mina uppgifter",
        "not_logged_in": "Du är inte inloggad.",
        "logged_out_notice": "Du har loggat ut.",
        "logout_button": "Logga ut",
        "me_title": "Mina uppgifter",
        "subject": "Identifierare (sub)",
        "name": "Namn",
        "id_token_claims": "Påståenden i ID-token",
        "userinfo_claims": "Påståenden från användarinformationstjänsten (userinfo)",
        "claim": "Påstående",
        "value": "Värde",
        "portal_profile": "Portalens användarprofil",
        "edit_profile": "Redigera profilen",
        "edit_account": "Redigera ditt konto som yrkesperson (i identifieringstjänsten)",
        "profile_title": "Användarprofil",
        "profile_intro": (
            "Portalen behöver en gång veta din yrkesgrupp: den avgör vilket innehåll du ser. "
            "Välfärdsområdet är frivilligt."
        ),
        "ammattiryhma": "Yrkesgrupp",
        "hyvinvointialue": "Välfärdsområde",
        "required": "obligatorisk",
        "optional": "frivilligt",
        "choose": "Välj …",
        "no_choice": "Inget val",
        "save": "Spara",
        "profile_error": "Välj en yrkesgrupp i listan.",
        "not_chosen": "Inte valt",
        "error_title": "Inloggningen misslyckades",
        "page_error_title": "Åtgärden misslyckades",
        "error_access_denied": "Inloggningen avbröts eller tilläts inte.",
        "error_login_required": "Du måste logga in i identifieringstjänsten. Logga in på nytt.",
        "error_unavailable": "Identifieringstjänsten svarar inte just nu. Försök igen om en stund.",
        "error_expired": (
            "Inloggningen gick ut eller påbörjades i ett annat webbläsarfönster. "
            "Börja om inloggningen."
        ),
        "error_failed": "Inloggningen kunde inte slutföras. Försök igen.",
        "error_csrf": "Formuläret hade gått ut. Gå tillbaka till sidan och försök igen.",
        "error_internal": "Ett fel inträffade i portalen. Försök igen.",
        "error_code": "Felkod",
        "error_details": "Mer information från identifieringstjänsten",
        "reference": "Referens (uppge den till supporten)",
        "try_again": "Logga in på nytt",
        "back_home": "Till startsidan",
    },
    "en": {
        "site_name": "Demo portal (Mielenterveystalo-style)",
        "site_tagline": "For professionals",
        "demo_badge": "DEMO",
        "demo_notice": (
            "This is a demo portal for development. It shows what the identity broker releases "
            "to a portal. It is not Mielenterveystalo and has no real content."
        ),
        "skip_to_content": "Skip to content",
        "language_switch": "Language",
        "professionals_section": "Professionals' section",
        "front_intro": (
            "What the professionals' section shows depends on your professional group. Log in "
            "with your organisation's credentials or with personal identification."
        ),
        "login_button": "Log in to the service",
        "logged_in_as": "You are logged in as",
        "my_details": "My details",
        "not_logged_in": "You are not logged in.",
        "logged_out_notice": "You have logged out.",
        "logout_button": "Log out",
        "me_title": "My details",
        "subject": "Identifier (sub)",
        "name": "Name",
        "id_token_claims": "ID token claims",
        "userinfo_claims": "UserInfo claims",
        "claim": "Claim",
        "value": "Value",
        "portal_profile": "The portal's user profile",
        "edit_profile": "Edit profile",
        "edit_account": "Edit your professional account (at the identification service)",
        "profile_title": "User profile",
        "profile_intro": (
            "The portal needs your professional group once: it decides what content you see. "
            "The wellbeing services county is optional."
        ),
        "ammattiryhma": "Professional group",
        "hyvinvointialue": "Wellbeing services county",
        "required": "required",
        "optional": "optional",
        "choose": "Choose…",
        "no_choice": "No choice",
        "save": "Save",
        "profile_error": "Choose a professional group from the list.",
        "not_chosen": "Not chosen",
        "error_title": "Login failed",
        "page_error_title": "That did not work",
        "error_access_denied": "The login was cancelled or not permitted.",
        "error_login_required": (
            "You need to log in at the identification service. Please log in again."
        ),
        "error_unavailable": (
            "The identification service is not responding right now. Please try again shortly."
        ),
        "error_expired": (
            "The login expired or was started in another browser window. Please start again."
        ),
        "error_failed": "The login could not be completed. Please try again.",
        "error_csrf": "The form had expired. Go back to the page and try again.",
        "error_internal": "Something went wrong in the portal. Please try again.",
        "error_code": "Error code",
        "error_details": "Details from the identification service",
        "reference": "Reference (give this to support)",
        "try_again": "Log in again",
        "back_home": "To the front page",
    },
}

# Ammattiryhmä (professional group): decides what content the portal shows. Key -> fi, sv, en.
AMMATTIRYHMAT: Final[dict[str, tuple[str, str, str]]] = {
    "laakari": ("Lääkäri", "Läkare", "Physician"),
    "sairaanhoitaja": ("Sairaanhoitaja", "Sjukskötare", "Registered nurse"),
    "psykologi": ("Psykologi", "Psykolog", "Psychologist"),
    "sosiaalityontekija": ("Sosiaalityöntekijä", "Socialarbetare", "Social worker"),
    "opiskelija": ("Opiskelija", "Studerande", "Student"),
    "muu": ("Muu", "Annan", "Other"),
}

# Hyvinvointialue (wellbeing services county): the 21 areas and the City of Helsinki, which
# organises its own social and health care. Official Finnish and Swedish names; English shows the
# Finnish name. Key -> fi, sv.
HYVINVOINTIALUEET: Final[dict[str, tuple[str, str]]] = {
    "ita-uusimaa": ("Itä-Uudenmaan hyvinvointialue", "Östra Nylands välfärdsområde"),
    "keski-uusimaa": ("Keski-Uudenmaan hyvinvointialue", "Mellersta Nylands välfärdsområde"),
    "lansi-uusimaa": ("Länsi-Uudenmaan hyvinvointialue", "Västra Nylands välfärdsområde"),
    "vantaa-kerava": ("Vantaan ja Keravan hyvinvointialue", "Vanda och Kervo välfärdsområde"),
    "helsinki": ("Helsingin kaupunki", "Helsingfors stad"),
    "varsinais-suomi": ("Varsinais-Suomen hyvinvointialue", "Egentliga Finlands välfärdsområde"),
    "satakunta": ("Satakunnan hyvinvointialue", "Satakunta välfärdsområde"),
    "kanta-hame": ("Kanta-Hämeen hyvinvointialue", "Egentliga Tavastlands välfärdsområde"),
    "pirkanmaa": ("Pirkanmaan hyvinvointialue", "Birkalands välfärdsområde"),
    "paijat-hame": ("Päijät-Hämeen hyvinvointialue", "Päijänne-Tavastlands välfärdsområde"),
    "kymenlaakso": ("Kymenlaakson hyvinvointialue", "Kymmenedalens välfärdsområde"),
    "etela-karjala": ("Etelä-Karjalan hyvinvointialue", "Södra Karelens välfärdsområde"),
    "etela-savo": ("Etelä-Savon hyvinvointialue", "Södra Savolax välfärdsområde"),
    "pohjois-savo": ("Pohjois-Savon hyvinvointialue", "Norra Savolax välfärdsområde"),
    "pohjois-karjala": ("Pohjois-Karjalan hyvinvointialue", "Norra Karelens välfärdsområde"),
    "keski-suomi": ("Keski-Suomen hyvinvointialue", "Mellersta Finlands välfärdsområde"),
    "etela-pohjanmaa": ("Etelä-Pohjanmaan hyvinvointialue", "Södra Österbottens välfärdsområde"),
    "pohjanmaa": ("Pohjanmaan hyvinvointialue", "Österbottens välfärdsområde"),
    "keski-pohjanmaa": (
        "Keski-Pohjanmaan hyvinvointialue",
        "Mellersta Österbottens välfärdsområde",
    ),
    "pohjois-pohjanmaa": (
        "Pohjois-Pohjanmaan hyvinvointialue",
        "Norra Österbottens välfärdsområde",
    ),
    "kainuu": ("Kainuun hyvinvointialue", "Kajanalands välfärdsområde"),
    "lappi": ("Lapin hyvinvointialue", "Lapplands välfärdsområde"),
}

# Organisations that the broker names (`organisation_id`, the organisation's IdP id) and the
# wellbeing area that runs them; HUS serves several areas, so it pre-fills none.
ORGANISATION_AREAS: Final[dict[str, str]] = {
    "oys": "pohjois-pohjanmaa",
    "tyks": "varsinais-suomi",
    "pshva": "pohjois-savo",
    "pirha": "pirkanmaa",
    "lshp": "lappi",
    "soite": "keski-pohjanmaa",
    "pajjatha": "paijat-hame",
}


def texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE])


def ammattiryhma_options(language: str) -> list[tuple[str, str]]:
    """(key, label) pairs in the list's order, labelled in `language`."""
    column = LANGUAGES.index(language) if language in LANGUAGES else 0
    return [(key, labels[column]) for key, labels in AMMATTIRYHMAT.items()]


def hyvinvointialue_options(language: str) -> list[tuple[str, str]]:
    """(key, label) pairs sorted by label; Swedish names in Swedish, Finnish names otherwise."""
    column = 1 if language == "sv" else 0
    pairs = [(key, names[column]) for key, names in HYVINVOINTIALUEET.items()]
    return sorted(pairs, key=lambda pair: pair[1])
