"""The mock Suomi.fi's own page, the picker of method and test person; the frame, messages and
the POST to the SP are `mock_idps.saml_common.pages`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.responses import HTMLResponse

from mock_idps.saml_common import pages
from mock_idps.suomifi_idp.methods import Method
from mock_idps.suomifi_idp.persons import Person
from mock_idps.suomifi_idp.texts import TEXTS


class Pages(pages.Pages):
    def __init__(self) -> None:
        super().__init__(Path(__file__).parent / "templates", TEXTS)

    def picker(
        self,
        locale: str,
        *,
        action: str,
        sp_entity_id: str,
        sealed: str,
        csrf_token: str,
        persons: Sequence[Person],
        languages: Sequence[tuple[str, str, str]],
        error: str | None = None,
    ) -> HTMLResponse:
        return self.render(
            "picker.html",
            locale,
            200 if error is None else 400,
            action=action,
            sp_entity_id=sp_entity_id,
            sealed=sealed,
            csrf_token=csrf_token,
            methods=[(m.value, m.info.loa) for m in Method],
            persons=persons,
            languages=languages,
            error=error,
        )
