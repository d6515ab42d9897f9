"""Every word the mock shows a person, in Finnish, Swedish and English.

Pages say MOCK in their title and in a banner: nobody may mistake this for Suomi.fi.
"""

from __future__ import annotations

LOCALES = ("fi", "sv", "en")
LANGUAGE_NAMES = {"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "Suomi.fi-tunnistus (MOCK)",
        "banner": "Tämä on testiympäristön MOCK-tunnistuspalvelu, ei Suomi.fi. "
        "Kaikki henkilöt ovat keksittyjä testihenkilöitä.",
        "service": "Palvelu {sp} pyytää sinua tunnistautumaan.",
        "method": "Valitse tunnistustapa",
        "person": "Valitse testihenkilö",
        "hetu": "Henkilötunnus",
        "name": "Nimi",
        "notes": "Huomioita",
        "submit": "Tunnistaudu",
        "level": "varmuustaso",
        "error_title": "Virhe (MOCK)",
        "bad_request": "Pyyntöä ei voi käsitellä: {reason}",
        "form_expired": "Lomake on vanhentunut. Aloita tunnistautuminen uudelleen palvelusta.",
        "choose_both": "Valitse sekä tunnistustapa että testihenkilö.",
        "redirecting": "Palaat palveluun…",
        "continue": "Jatka",
        "logged_out": "Olet kirjautunut ulos testitunnistuksesta.",
        "pankkitunnukset": "Pankkitunnukset",
        "varmennekortti": "Varmennekortti (sote-kortti, VRK-kortti)",
        "mobiilivarmenne": "Mobiilivarmenne",
        "testitunnistaja": "Testitunnistaja",
    },
    "sv": {
        "title": "Suomi.fi-identifikation (MOCK)",
        "banner": "Detta är en MOCK-identifieringstjänst för testmiljön, inte Suomi.fi. "
        "Alla personer är påhittade testpersoner.",
        "service": "Tjänsten {sp} ber dig identifiera dig.",
        "method": "Välj identifieringssätt",
        "person": "Välj testperson",
        "hetu": "Personbeteckning",
        "name": "Namn",
        "notes": "Anmärkningar",
        "submit": "Identifiera dig",
        "level": "tillitsnivå",
        "error_title": "Fel (MOCK)",
        "bad_request": "Begäran kan inte behandlas: {reason}",
        "form_expired": "Formuläret har gått ut. Börja om identifieringen från tjänsten.",
        "choose_both": "Välj både identifieringssätt och testperson.",
        "redirecting": "Du återvänder till tjänsten…",
        "continue": "Fortsätt",
        "logged_out": "Du har loggat ut från testidentifikationen.",
        "pankkitunnukset": "Bankkoder",
        "varmennekortti": "Certifikatkort (social- och hälsovårdskort, BRC-kort)",
        "mobiilivarmenne": "Mobilcertifikat",
        "testitunnistaja": "Testidentifiering",
    },
    "en": {
        "title": "Suomi.fi e-Identification (MOCK)",
        "banner": "This is a MOCK identification service for testing, not Suomi.fi. "
        "All persons are invented test persons.",
        "service": "The service {sp} asks you to identify yourself.",
        "method": "Choose an identification method",
        "person": "Choose a test person",
        "hetu": "Personal identity code",
        "name": "Name",
        "notes": "Notes",
        "submit": "Identify",
        "level": "level of assurance",
        "error_title": "Error (MOCK)",
        "bad_request": "The request cannot be handled: {reason}",
        "form_expired": "The form has expired. Start the identification again from the service.",
        "choose_both": "Choose both an identification method and a test person.",
        "redirecting": "Returning to the service…",
        "continue": "Continue",
        "logged_out": "You have logged out of the test identification.",
        "pankkitunnukset": "Online bank credentials",
        "varmennekortti": "Certificate card (social and health-care card, DVV card)",
        "mobiilivarmenne": "Mobile certificate",
        "testitunnistaja": "Test identification",
    },
}
