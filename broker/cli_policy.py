"""`clients add`'s portal-policy flags (routes, IdPs, default and minimum acr, privacy notice)
and their check against the broker's own routes, IdPs and levels (`portal_policy`)."""

from __future__ import annotations

import argparse
from typing import Any

from broker.assembly import load_idps
from broker.frontend.oidc.portal_policy import check_policy
from broker.settings import Settings
from broker.store.records import ClientRecord

POLICY_FIELDS = ("routes", "idps", "default_acr", "minimum_acr", "policy_uri")


def add_policy_arguments(add: Any) -> None:
    add.add_argument(
        "--route",
        action="append",
        default=[],
        dest="routes",
        help="a login route the portal offers (journey.yaml id; repeat; default: every route)",
    )
    add.add_argument(
        "--idp",
        action="append",
        default=[],
        dest="idps",
        help="an IdP the portal offers (idp_configs file id; repeat; default: every IdP)",
    )
    add.add_argument("--default-acr", help="acr asked when the request has no acr_values")
    add.add_argument(
        "--minimum-acr", help="the least acr the portal accepts (lower requests are raised)"
    )
    add.add_argument("--policy-uri", help="the portal's privacy notice (https)")


def policy_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "routes": tuple(dict.fromkeys(args.routes)),
        "idps": tuple(dict.fromkeys(args.idps)),
        "default_acr": args.default_acr,
        "minimum_acr": args.minimum_acr,
        "policy_uri": args.policy_uri,
    }


def check_client_policy(settings: Settings, client: ClientRecord) -> None:
    """ConfigError naming the field for a route, IdP or acr the broker does not have."""
    registry = load_idps(settings)
    check_policy(
        client,
        routes=[r.id for r in registry.journey.routes],
        idps=[i.id for i in registry.idps()],
        acr_values_supported=settings.acr_values_supported,
        development=settings.development,
    )


def public_policy(client: ClientRecord) -> dict[str, Any]:
    return {
        "routes": list(client.routes),
        "idps": list(client.idps),
        "default_acr": client.default_acr,
        "minimum_acr": client.minimum_acr,
        "policy_uri": client.policy_uri,
    }


def policy_summary(client: ClientRecord) -> str:
    """The last column of `clients list`: what the policy sets (empty: no column)."""
    parts = [
        f"routes={','.join(client.routes)}" if client.routes else "",
        f"idps={','.join(client.idps)}" if client.idps else "",
        f"default_acr={client.default_acr}" if client.default_acr else "",
        f"minimum_acr={client.minimum_acr}" if client.minimum_acr else "",
        f"policy_uri={client.policy_uri}" if client.policy_uri else "",
    ]
    return " ".join(p for p in parts if p)
