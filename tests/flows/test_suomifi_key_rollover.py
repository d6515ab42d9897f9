"""The SAML SP key rollover end to end, without restarting the broker: the operator runs each
`saml-keys` step from another process, the running broker picks it up on its housekeeping
round, and people keep logging in through the mock Suomi.fi, which holds the old SP metadata
until it loads the new (as Suomi.fi does until its operator registers the new metadata)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree

from broker.upstream.saml.sp_keys import SPKeyRing
from tests.flows.suomifi import back_at_broker, suomifi_answer, to_suomifi
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.upstream.saml.test_sp_keys import signs_request
from tests.worlds import SAMLWorld

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture
def broker_overrides() -> dict[str, Any]:
    return {"housekeeping_seconds": 0.1}


async def published(world: SAMLWorld) -> list[str]:
    """The signing certificates of the served SP metadata, in order."""
    async with httpx.AsyncClient() as http:
        xml = (await http.get(world.broker.url + "/saml/metadata")).content
    root = ElementTree.fromstring(xml)
    return [
        "".join(d.findtext(f".//{DS}X509Certificate", "").split())
        for d in root.iter(f"{MD}KeyDescriptor")
        if d.get("use") == "signing"
    ]


async def until(world: SAMLWorld, wanted: Callable[[list[str]], bool]) -> list[str]:
    """Poll the served metadata until the broker's housekeeping has picked the step up."""
    for _ in range(100):
        certs = await published(world)
        if wanted(certs):
            return certs
        await asyncio.sleep(0.1)
    raise AssertionError(f"the broker did not pick the key step up: {len(certs)} certificates")


async def reload_mock(world: SAMLWorld) -> None:
    """The IdP's operator loads the broker's new SP metadata."""
    async with httpx.AsyncClient() as http:
        (await http.post(world.suomifi_url + "/_reload-sp-metadata")).raise_for_status()


async def log_in(world: SAMLWorld, browser: httpx.AsyncClient) -> str:
    """A whole login through the personal route; the AuthnRequest's query string."""
    client = portal_client(world.broker)
    auth = await start(client)
    browser.cookies.clear()
    sso_url = await to_suomifi(browser, world, auth.url)
    acs, form = await suomifi_answer(browser, sso_url)
    back = await back_at_broker(browser, world, acs, form)
    assert back.status_code == 303, back.text
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    assert token["id_token"]
    return sso_url.split("?", 1)[1]


async def test_logins_go_on_through_every_step_of_an_sp_key_rollover(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    operator = SPKeyRing(saml_world.broker.settings.saml_sp.key_directory)
    old = operator.keys.active
    assert signs_request(await log_in(saml_world, browser), old)

    new = operator.add()
    await until(saml_world, lambda certs: certs == [old.cert_base64(), new.cert_base64()])
    assert signs_request(await log_in(saml_world, browser), old)  # the IdP has only the old key
    await reload_mock(saml_world)
    assert signs_request(await log_in(saml_world, browser), old)

    operator.activate()
    await until(saml_world, lambda certs: certs[0] == new.cert_base64())
    query = await log_in(saml_world, browser)
    assert signs_request(query, new) and not signs_request(query, old)

    operator.retire()
    await until(saml_world, lambda certs: certs == [new.cert_base64()])
    await reload_mock(saml_world)
    assert signs_request(await log_in(saml_world, browser), new)
