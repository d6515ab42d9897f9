"""What every endpoint shares: the pysaml2 Server, keys, persons, faults, signer, pages, clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from saml2.server import Server
from starlette.requests import Request

from mock_idps.saml_common.entity import Entity, build_server, fetch_metadata
from mock_idps.saml_common.faults import FaultBoard
from mock_idps.saml_common.keys import KeyStore
from mock_idps.saml_common.responses import Signing
from mock_idps.saml_common.sessions import Signer
from mock_idps.suomifi_idp.pages import Pages
from mock_idps.suomifi_idp.persons import Person

KEY_NAME = "suomifi-mock-idp"
ORGANISATION = "MOCK Suomi.fi e-Identification"


def entity(base_url: str) -> Entity:
    return Entity(entity_id=f"{base_url}/idp", endpoint_base=base_url, name=ORGANISATION)


@dataclass
class MockSuomifiIdP:
    base_url: str
    server: Server
    keys: KeyStore
    persons: dict[str, Person]
    sp_metadata_sources: Sequence[str | Path]
    encrypt_assertions: bool
    faults: FaultBoard | None  # None: test endpoints are off
    signer: Signer
    pages: Pages
    clock: Callable[[], float]

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/idp"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def endpoint(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def now(self) -> int:
        return int(self.clock())

    def signing(self) -> Signing:
        return Signing(self.server, self.keys.signing, self.keys.impostor, self.keys.retired)

    def roll_key(self, step: str) -> dict[str, object]:
        """One step of a signing-key rollover (`KeyStore.roll`); at `switch` the Server is
        rebuilt (SP metadata fetched again, blocking) so that logout messages are signed with the
        new key too. Raises RolloverError or MetadataError."""
        self.keys.roll(step)
        if step == "switch":
            self.reload_sp_metadata()
        return {
            "signing": self.keys.signing.cert_file.stem,
            "published": [pair.cert_file.stem for pair in self.keys.published],
        }

    def reload_sp_metadata(self) -> int:
        """Fetch the SP metadata again and rebuild the Server (blocking); how many sources."""
        metadata = fetch_metadata(self.sp_metadata_sources)
        self.server = build_server(entity(self.base_url), self.keys.signing, metadata)
        return len(self.sp_metadata_sources)


def idp_of(request: Request) -> MockSuomifiIdP:
    return cast(MockSuomifiIdP, request.app.state.idp)
