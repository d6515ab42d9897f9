"""What every endpoint shares: one IdP entity per organisation (its pysaml2 Server, keys, cookie
signer and fault board), the trusted SP metadata, the pages and the clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.server import Server
from starlette.requests import Request

from mock_idps.org_saml_idp.config import Organisation
from mock_idps.org_saml_idp.pages import Pages
from mock_idps.saml_common.entity import Entity, build_server, fetch_metadata
from mock_idps.saml_common.faults import FaultBoard
from mock_idps.saml_common.keys import KeyStore
from mock_idps.saml_common.responses import Protection, Signing
from mock_idps.saml_common.sessions import CookieScope, Signer

# The NameID formats each organisation issues; the first is the default for an AuthnRequest that
# names none (or `unspecified`).
NAME_ID_FORMATS = (NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT)


@dataclass
class OrgEntity:
    """One organisation's IdP: its settings and users, pysaml2 Server, keys, cookie signer
    (salted with the organisation) and fault board (None when faults are off)."""

    org: Organisation
    entity: Entity
    server: Server
    keys: KeyStore
    signer: Signer
    faults: FaultBoard | None

    @property
    def entity_id(self) -> str:
        return self.entity.entity_id

    def signing(self) -> Signing:
        return Signing(self.server, self.keys.signing, self.keys.impostor, self.keys.retired)

    def protection(self) -> Protection:
        sign = self.org.sign
        return Protection(
            sign_response=sign in ("response", "both"),
            sign_assertion=sign in ("assertion", "both"),
            encrypt=self.org.encrypt,
        )


def org_entity(base_url: str, org: Organisation) -> Entity:
    return Entity(
        entity_id=f"{base_url}/{org.org_id}/idp",
        endpoint_base=f"{base_url}/{org.org_id}",
        name=f"MOCK {org.short_name} (SAML)",
        name_id_formats=NAME_ID_FORMATS,
        single_logout=False,  # no SLO yet: the metadata does not offer it
    )


@dataclass
class MockOrgSAMLIdP:
    base_url: str
    entities: dict[str, OrgEntity]
    sp_metadata_sources: Sequence[str | Path]
    pages: Pages
    clock: Callable[[], float]

    def entity(self, org_id: str) -> OrgEntity | None:
        return self.entities.get(org_id)

    def endpoint(self, org_id: str, name: str) -> str:
        return f"{self.base_url}/{org_id}/{name}"

    def cookie_scope(self, org_id: str) -> CookieScope:
        """Each organisation's cookies on its own path, Secure over https."""
        path = urlsplit(self.base_url).path.rstrip("/") + f"/{org_id}"
        return CookieScope(path=path, secure=self.base_url.startswith("https://"))

    def now(self) -> int:
        return int(self.clock())

    def reload_sp_metadata(self) -> int:
        """Fetch the SP metadata again and rebuild every Server (blocking); how many sources."""
        metadata = fetch_metadata(self.sp_metadata_sources)
        for entity in self.entities.values():
            entity.server = build_server(entity.entity, entity.keys.signing, metadata)
        return len(self.sp_metadata_sources)


def idp_of(request: Request) -> MockOrgSAMLIdP:
    return cast(MockOrgSAMLIdP, request.app.state.idp)
