"""The mock organisation's own pages: the login form and the index of organisations; the frame,
messages and the POST to the SP are `mock_idps.saml_common.pages`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.responses import HTMLResponse

from mock_idps.org_saml_idp.config import Organisation
from mock_idps.org_saml_idp.texts import TEXTS
from mock_idps.saml_common import pages


class Pages(pages.Pages):
    def __init__(self) -> None:
        super().__init__(Path(__file__).parent / "templates", TEXTS)

    def login(
        self,
        org: Organisation,
        locale: str,
        *,
        action: str,
        sp_entity_id: str,
        sealed: str,
        csrf_token: str,
        languages: Sequence[tuple[str, str, str]],
        username: str = "",
        error: str | None = None,
    ) -> HTMLResponse:
        return self.render(
            "login.html",
            locale,
            title=TEXTS[locale]["login_title"].format(org=org.short_name),
            org_name=org.display_name(locale),
            users=org.users,
            action=action,
            sp_entity_id=sp_entity_id,
            sealed=sealed,
            csrf_token=csrf_token,
            username=username,
            error=error,
            languages=languages,
        )

    def index(self, organisations: Sequence[tuple[Organisation, str, str]]) -> HTMLResponse:
        """(organisation, entity id, metadata URL) for each."""
        return self.render("index.html", "fi", organisations=organisations)
