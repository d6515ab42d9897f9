"""What `sub` each portal gets for one person (OpenID Connect Core §8): its own pairwise subject
by default, shared only by the portals of one sector; the broker's one public subject only for a
client registered for it. The ID token, userinfo, introspection and the back-channel logout token
all carry the portal's own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from broker.errors import ConfigError
from broker.frontend.oidc.clients import check_client
from broker.store.records import ClientRecord
from tests.brokers import PORTAL, RunningBroker
from tests.flows.conftest import LogoutReceiver, wait_for
from tests.flows.test_logout import logged_in, verified
from tests.jwt_tools import jwt_parts


async def subject_everywhere(
    broker: RunningBroker, browser: httpx.AsyncClient, client_id: str
) -> str:
    token: dict[str, Any] = await logged_in(broker, browser, client_id)
    sub = str(jwt_parts(token["id_token"])[1]["sub"])
    auth = (client_id, broker.secrets[client_id])
    userinfo = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    introspected = await browser.post(
        broker.url + "/introspect", data={"token": token["access_token"]}, auth=auth
    )
    assert userinfo.json()["sub"] == introspected.json()["sub"] == sub
    return sub


async def test_each_sector_gets_its_own_subject_and_public_clients_share_one(
    broker: RunningBroker, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    await broker.add_client("portal", backchannel_logout_uri=receiver.url)
    await broker.add_client("sister", sector_identifier="127.0.0.1")  # the portal's own host
    await broker.add_client("elsewhere", sector_identifier="toinen-portaali.example.fi")
    await broker.add_client("public-a", subject_type="public")
    await broker.add_client("public-b", subject_type="public")
    subs = {c: await subject_everywhere(broker, browser, c) for c in
            ("portal", "sister", "elsewhere", "public-a", "public-b")}  # fmt: skip

    assert subs["portal"] == subs["sister"]  # one sector
    assert subs["elsewhere"] != subs["portal"]
    assert subs["public-a"] == subs["public-b"] != subs["portal"]
    assert len({subs["portal"], subs["elsewhere"], subs["public-a"]}) == 3
    assert all(len(sub) == 32 for sub in subs.values())
    # the same person, the same portal, the next login: the same subject
    assert await subject_everywhere(broker, browser, "elsewhere") == subs["elsewhere"]

    token = await logged_in(broker, browser)
    await browser.get(broker.url + "/end_session", params={"id_token_hint": token["id_token"]})
    await wait_for(lambda: len(receiver.tokens) == 1)
    _, logout_claims = await verified(broker, receiver.tokens[0])
    assert logout_claims["sub"] == subs["portal"]


def client(**fields: Any) -> ClientRecord:
    base: dict[str, Any] = {
        "client_id": "portal",
        "client_name": "Portal",
        "redirect_uris": (f"{PORTAL}/callback",),
        "token_endpoint_auth_method": "client_secret_basic",
        "secret_hash": "x" * 64,
    }
    return ClientRecord(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"subject_type": "secret"}, "subject_type: expected one of"),
        (
            {"redirect_uris": ("https://a.example/cb", "https://b.example/cb")},
            "redirect_uris on several hosts need one",
        ),
        ({"sector_identifier": "https://portal.example"}, "expected a host name"),
        ({"sector_identifier": "Portal.Example"}, "expected a host name"),
    ],
)
def test_a_client_whose_sector_is_unclear_is_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        check_client(client(**fields), development=False)


def test_several_hosts_are_fine_with_a_sector_or_a_public_subject() -> None:
    hosts = ("https://a.example/cb", "https://b.example/cb")
    check_client(client(redirect_uris=hosts, sector_identifier="a.example"), development=False)
    check_client(client(redirect_uris=hosts, subject_type="public"), development=False)
