"""The personal route end to end: portal → broker → mock Suomi.fi (SAML, signed and encrypted)
→ the broker's ACS → same-site continue → portal. The ACS POST is made the way a browser makes a
cross-site POST: without the broker's SameSite=Lax cookies."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree

from tests.flows.suomifi import (
    BANK,
    CARD,
    LOA2,
    LOA3,
    MOBILE,
    TESSA,
    back_at_broker,
    cross_site_post,
    saml_message,
    suomifi_answer,
    to_suomifi,
)
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import SAML_SP_SETTINGS, SAMLWorld

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
MDUI = "{urn:oasis:names:tc:SAML:metadata:ui}"
MDATTR = "{urn:oasis:names:tc:SAML:metadata:attribute}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
XML = "{http://www.w3.org/XML/1998/namespace}"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
HETU = "urn:oid:1.2.246.21"


@pytest.mark.parametrize(
    ("method", "acr_values", "acr", "amr"),
    [
        ("varmennekortti", LOA3, LOA3, CARD),  # certificate card (sote card, DVV card)
        ("mobiilivarmenne", LOA3, LOA3, MOBILE),  # mobile certificate
        ("pankkitunnukset", f"{LOA2} {LOA3}", LOA2, BANK),  # online bank
    ],
)
async def test_personal_identification_with_each_method(
    saml_world: SAMLWorld,
    browser: httpx.AsyncClient,
    method: str,
    acr_values: str,
    acr: str,
    amr: str,
) -> None:
    await saml_world.broker.add_client()
    client = portal_client(saml_world.broker)
    auth = await start(client, acr_values=acr_values)
    sso_url = await to_suomifi(browser, saml_world, auth.url)
    assert LOA3 in saml_message(sso_url)  # the portal's acr_values, as RequestedAuthnContext
    acs, form = await suomifi_answer(browser, sso_url, method)
    assert acs == saml_world.broker.url + "/upstream/saml/acs"
    back = await back_at_broker(browser, saml_world, acs, form)
    assert back.status_code == 303, back.text
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert (claims["acr"], claims["amr"]) == (acr, [amr])
    assert TESSA not in claims["sub"] and len(claims["sub"]) == 32
    info = await client.userinfo(token=token)
    assert (info["given_name"], info["family_name"]) == ("Tessa", "Testilä")
    assert TESSA not in str(info)  # the identity code is not released (no release policy yet)


async def test_a_response_replayed_into_another_browser_is_refused(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    auth = await start(portal_client(saml_world.broker))
    acs, form = await suomifi_answer(browser, await to_suomifi(browser, saml_world, auth.url))
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as attacker:
        other_auth = await start(portal_client(saml_world.broker))
        await attacker.get(other_auth.url)  # the attacker's own login, with its own cookie
        held = await attacker.post(acs, data=form)
        assert held.status_code == 303
        stolen = await attacker.get(saml_world.broker.url + held.headers["location"])
    assert stolen.status_code == 400
    assert "location" not in stolen.headers
    assert "Kirjautumista ei aloitettu tässä selaimessa" in stolen.text


async def test_bank_login_does_not_satisfy_loa3(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    auth = await start(
        portal_client(saml_world.broker), acr_values="http://ftn.ficora.fi/2017/loa3"
    )
    acs, form = await suomifi_answer(
        browser, await to_suomifi(browser, saml_world, auth.url), method="pankkitunnukset"
    )
    refused = await cross_site_post(acs, form)  # refused where it arrives, nothing held
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert 'href="/login/role"' in refused.text


async def test_sp_metadata_says_what_suomifi_needs_and_is_signed(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, tmp_path: Path
) -> None:
    broker = saml_world.broker.url
    response = await browser.get(broker + "/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    root = ElementTree.fromstring(response.content)
    assert root.get("entityID") == broker + "/saml/metadata"
    (sso,) = root.iter(f"{MD}SPSSODescriptor")
    assert (sso.get("AuthnRequestsSigned"), sso.get("WantAssertionsSigned")) == ("true", "true")
    assert languages(sso.iter(f"{MDUI}DisplayName")) == SAML_SP_SETTINGS["service_names"]
    (acs,) = sso.iter(f"{MD}AssertionConsumerService")
    assert (acs.get("Binding"), acs.get("Location")) == (POST, broker + "/upstream/saml/acs")
    (slo,) = sso.iter(f"{MD}SingleLogoutService")
    assert (slo.get("Binding"), slo.get("Location")) == (REDIRECT, broker + "/upstream/saml/slo")
    (service,) = sso.iter(f"{MD}AttributeConsumingService")
    assert languages(service.iter(f"{MD}ServiceName")) == SAML_SP_SETTINGS["service_names"]
    requested = {
        a.get("FriendlyName"): (a.get("Name"), a.get("NameFormat"), a.get("isRequired"))
        for a in service.iter(f"{MD}RequestedAttribute")
    }
    assert requested["nationalIdentificationNumber"] == (HETU, URI_FORMAT, "true")
    assert requested["givenName"] == ("urn:oid:2.5.4.42", URI_FORMAT, "false")
    assert len(requested) == 8 and None not in requested
    (organisation,) = root.iter(f"{MD}Organization")
    assert languages(organisation.iter(f"{MD}OrganizationName")) == {
        "fi": "Testiorganisaatio",
        "sv": "Testorganisation",
        "en": "Test org",
    }
    assert {u.text for u in organisation.iter(f"{MD}OrganizationURL")} == {
        "https://organisaatio.example"
    }
    contacts = {
        c.get("contactType"): c.findtext(f"{MD}EmailAddress")
        for c in root.iter(f"{MD}ContactPerson")
    }
    assert contacts == {
        "technical": "mailto:tekniikka@organisaatio.example",
        "support": "mailto:tuki@organisaatio.example",
    }
    (entity_attributes,) = root.iter(f"{MDATTR}EntityAttributes")
    assert {
        a.get("Name"): (a.get("FriendlyName"), a.get("NameFormat"), [v.text for v in a])
        for a in entity_attributes.iter(f"{SAML}Attribute")
    } == {
        "FinnishAuthMethod": (None, URI_FORMAT, [LOA3, LOA2]),
        "urn:oid:1.2.246.517.3003.111.3": ("VtjVerificationRequired", URI_FORMAT, ["true"]),
    }
    assert_signed_by_its_own_key(root, response.content, tmp_path)


def languages(elements: Iterable[Any]) -> dict[str, str | None]:
    return {e.get(f"{XML}lang"): e.text for e in elements}


def assert_signed_by_its_own_key(root: Any, xml: bytes, tmp_path: Path) -> None:
    """xmlsec1 checks the enveloped signature with the certificate the metadata publishes."""
    cert = root.find(f".//{MD}KeyDescriptor[@use='signing']//{DS}X509Certificate").text
    pem = tmp_path / "sp.pem"
    body = "\n".join(textwrap.wrap("".join(cert.split()), 64))
    pem.write_text(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    (tmp_path / "md.xml").write_bytes(xml)
    (method,) = root.iter(f"{DS}SignatureMethod")
    assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    checked = subprocess.run(
        [
            shutil.which("xmlsec1") or "xmlsec1",
            "--verify",
            "--pubkey-cert-pem",
            str(pem),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            str(tmp_path / "md.xml"),
        ],
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
