"""`sote-broker clients add` sets a portal's policy (routes, IdPs, acr, privacy notice), `clients
list` shows it, and an unknown route, IdP or acr is refused with a message naming it."""

from __future__ import annotations

import json

import pytest

from tests.flows.suomifi import LOA2, LOA3
from tests.flows.test_audit_trail import run_cli
from tests.worlds import JourneyWorld

BASE = ("clients", "add", "--client-id", "alue", "--redirect-uri", "http://127.0.0.1:9/cb")
BASE += ("--auth-method", "none")


async def test_clients_add_sets_the_policy_and_clients_list_shows_it(world: JourneyWorld) -> None:
    await run_cli(
        world.broker,
        *BASE,
        "--name",
        "Pirkanmaan portaali",
        "--route",
        "organisation",
        "--idp",
        "pirha",
        "--default-acr",
        LOA3,
        "--minimum-acr",
        LOA2,
        "--policy-uri",
        "https://portaali.example/tietosuoja",
    )
    [listed] = json.loads((await run_cli(world.broker, "clients", "list", "--json")).stdout)
    assert (listed["routes"], listed["idps"]) == (["organisation"], ["pirha"])
    assert (listed["default_acr"], listed["minimum_acr"]) == (LOA3, LOA2)
    assert listed["policy_uri"] == "https://portaali.example/tietosuoja"
    text = (await run_cli(world.broker, "clients", "list")).stdout
    assert f"routes=organisation idps=pirha default_acr={LOA3}" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--route", "citizen"), "alue: routes: unknown ['citizen']"),
        (("--idp", "nowhere"), "alue: idps: unknown ['nowhere']"),
        (("--minimum-acr", "loa3"), "alue: minimum_acr: 'loa3' is not in"),
        (("--default-acr", LOA2, "--minimum-acr", LOA3), "default_acr: below minimum_acr"),
        (("--policy-uri", "javascript:alert(1)"), "policy_uri: 'javascript:alert(1)' must be"),
    ],
)
async def test_an_unknown_route_idp_or_acr_is_refused_by_name(
    world: JourneyWorld, flags: tuple[str, ...], message: str
) -> None:
    refused = await run_cli(world.broker, *BASE, *flags, check=False)
    assert refused.returncode == 2
    assert message in refused.stderr, refused.stderr
    assert json.loads((await run_cli(world.broker, "clients", "list", "--json")).stdout) == []
