"""Test worlds: a broker with its mock IdPs (organisation OIDC and SAML, Suomi.fi), and the
idp_configs/ pointed at them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.brokers import RunningBroker, start_broker
from tests.servers import bound_socket, serve

REPO_IDP_CONFIGS = Path(__file__).parents[1] / "idp_configs"

MOCK_IDP_SECRET = "mock-idp-secret-for-development-only"

ORG_SAML_DEFAULT_URL = "http://127.0.0.1:8004"  # the mock organisation SAML IdP in idp_configs/


def idp_configs_for(
    mock_url: str,
    target: Path,
    suomifi_url: str | None = None,
    org_saml_url: str | None = None,
    required_registration: Collection[str] = (),
) -> Path:
    """The committed idp_configs/, pointed at the mock IdPs on test ports, secrets inline.
    Without a mock Suomi.fi, the Suomi.fi IdP is left out (and its route with it); without a
    mock organisation SAML IdP, so are the organisations on SAML (and the broker then needs no
    SAML service provider). The IdPs in `required_registration` send a first login to the
    registration form (`registration: required`) instead of making the account at once."""
    target.mkdir()
    for path in REPO_IDP_CONFIGS.glob("*.yaml"):
        if path.name == "suomifi.yaml" and suomifi_url is None:
            continue
        text = path.read_text()
        if ORG_SAML_DEFAULT_URL in text:
            if org_saml_url is None:
                continue
            text = text.replace(ORG_SAML_DEFAULT_URL, org_saml_url)
        text = text.replace("http://127.0.0.1:8002", mock_url)
        if suomifi_url is None:
            text = text.replace("idps: [suomifi]", "idps: []")
        else:
            text = text.replace("http://127.0.0.1:8003", suomifi_url)
        text = re.sub(r"env: SOTE_BROKER_IDP_\w+_SECRET", f"value: {MOCK_IDP_SECRET}", text)
        text = text.replace("oidc:\n", "oidc:\n  timeout_seconds: 2\n")  # an IdP "down" test waits
        if path.stem in required_registration:
            text += "\nregistration: required\n"
        (target / path.name).write_text(text)
    return target


@dataclass
class IdPClock:
    """The mock IdPs' clock: real time (pysaml2 in the broker checks SAML times against it) plus
    an offset a test may set, e.g. for a person who logged in at the IdP two hours ago."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class JourneyWorld:
    """A broker with its login journey and the mock organisation IdP it logs people in with."""

    broker: RunningBroker
    idp_url: str
    idp_clock: IdPClock = field(default_factory=IdPClock)

    async def fault(self, org: str, fault: str, count: int = 1, **extra: Any) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                self.idp_url + "/_faults",
                json={"org": org, "fault": fault, "count": count, **extra},
            )
            response.raise_for_status()


def serve_journey(
    tmp_path: Path,
    broker_keys: Path,
    mock_idp_keys: Path,
    org_saml_url: str | None = None,
    idp_clock: Callable[[], float] = time.time,
    required_registration: Collection[str] = (),
    **overrides: Any,
) -> Iterator[RunningBroker]:
    """A broker with the login journey and the mock organisation OIDC IdP it logs in with
    (`idp_url`); with `org_saml_url`, the organisations on SAML point there; `overrides` are
    more settings of the broker."""
    from mock_idps.oidc_idp import create_app as create_mock_idp

    broker_sock, idp_sock = bound_socket(), bound_socket()
    broker_url = f"http://127.0.0.1:{broker_sock.getsockname()[1]}"
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[broker_url + "/upstream/oidc/callback/{org}"],
        faults_enabled=True,
        key_dir=mock_idp_keys,
        clock=idp_clock,
    )
    configs = idp_configs_for(
        idp_base,
        tmp_path / "idp_configs",
        org_saml_url=org_saml_url,
        required_registration=required_registration,
    )
    with serve(mock, idp_sock) as idp_url:
        for running in start_broker(
            tmp_path, broker_keys, broker_sock, idp_configs=configs, **overrides
        ):
            running.idp_url = idp_url
            yield running


@dataclass
class SAMLWorld:
    """A broker with the Suomi.fi route, the mock Suomi.fi IdP trusting the broker's SP metadata.
    `stop_suomifi()` takes the mock down (an IdP that is down)."""

    broker: RunningBroker
    suomifi_url: str
    stop_suomifi: Callable[[], None] = lambda: None


LOA2_URI, LOA3_URI = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"

SAML_SP_SETTINGS: dict[str, Any] = {
    "organisation_names": {"fi": "Testiorganisaatio", "sv": "Testorganisation", "en": "Test org"},
    "organisation_url": "https://organisaatio.example",
    "service_names": {"fi": "Sote-tunnistus", "sv": "Sote-identifiering", "en": "Sote login"},
    "contact_email": "tekniikka@organisaatio.example",
    "support_email": "tuki@organisaatio.example",
    "entity_attributes": [
        {"name": "FinnishAuthMethod", "values": [LOA3_URI, LOA2_URI]},
        {
            "name": "urn:oid:1.2.246.517.3003.111.3",
            "friendly_name": "VtjVerificationRequired",
            "values": ["true"],
        },
    ],
}

"""What the broker's SP metadata says of its organisation, service and contacts in the tests."""


@dataclass
class OrgSAMLWorld(JourneyWorld):
    """Every organisation of idp_configs/: those on OIDC at the mock OIDC IdP (`idp_url`), those
    on SAML at the mock organisation SAML IdP (`org_saml_url`), which trusts the broker's SP
    metadata."""

    org_saml_url: str = ""

    async def saml_fault(self, org: str, fault: str, count: int = 1) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                self.org_saml_url + "/_faults", json={"org": org, "fault": fault, "count": count}
            )
            response.raise_for_status()
