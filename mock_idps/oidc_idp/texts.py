"""Every word the mock shows a person, in Finnish, Swedish and English.

The pages say MOCK in their title and in a banner: a tester must never mistake this for a real
organisation's login and type real work credentials into it.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "{org} — testikirjautuminen (MOCK)",
        "banner": "Tämä on testiympäristön MOCK-tunnistuspalvelu. Älä käytä oikeita tunnuksia.",
        "client": "Palvelu {client} pyytää sinua tunnistautumaan.",
        "username": "Käyttäjätunnus",
        "password": "Salasana",
        "submit": "Kirjaudu",
        "bad_credentials": "Väärä käyttäjätunnus tai salasana.",
        "users": "Testikäyttäjät",
        "name": "Nimi",
        "job_title": "Nimike",
        "error_title": "Virhe (MOCK)",
        "bad_request": "Pyyntöä ei voi käsitellä: {reason}",
        "form_expired": "Lomake on vanhentunut. Aloita kirjautuminen uudelleen palvelusta.",
        "logged_out_title": "{org} — uloskirjautuminen (MOCK)",
        "logged_out": "Olet kirjautunut ulos testipalvelusta.",
        "index_title": "MOCK-organisaatiotunnistus (OIDC)",
    },
    "sv": {
        "title": "{org} — testinloggning (MOCK)",
        "banner": "Detta är en MOCK-identifieringstjänst för testmiljön. "
        "Använd inte riktiga inloggningsuppgifter.",
        "client": "Tjänsten {client} ber dig identifiera dig.",
        "username": "Användarnamn",
        "password": "Lösenord",
        "submit": "Logga in",
        "bad_credentials": "Fel användarnamn eller lösenord.",
        "users": "Testanvändare",
        "name": "Namn",
        "job_title": "Titel",
        "error_title": "Fel (MOCK)",
        "bad_request": "Begäran kan inte behandlas: {reason}",
        "form_expired": "Formuläret har gått ut. Börja om inloggningen från tjänsten.",
        "logged_out_title": "{org} — utloggning (MOCK)",
        "logged_out": "Du har loggat ut från testtjänsten.",
        "index_title": "MOCK-organisationsidentifiering (OIDC)",
    },
    "en": {
        "title": "{org} — test login (MOCK)",
        "banner": "This is a MOCK identity provider for testing. Do not use real credentials.",
        "client": "The service {client} asks you to log in.",
        "username": "Username",
        "password": "Password",
        "submit": "Log in",
        "bad_credentials": "Wrong username or password.",
        "users": "Test users",
        "name": "Name",
        "job_title": "Title",
        "error_title": "Error (MOCK)",
        "bad_request": "The request cannot be handled: {reason}",
        "form_expired": "The form has expired. Start the login again from the service.",
        "logged_out_title": "{org} — logout (MOCK)",
        "logged_out": "You have logged out of the test service.",
        "index_title": "MOCK organisation identification (OIDC)",
    },
}
LANGUAGE_NAMES = {"fi": "suomeksi", "sv": "på svenska", "en": "in English"}
