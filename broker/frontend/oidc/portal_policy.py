"""A portal's own policy, registered with it: the routes and IdPs it offers, the level of
assurance (acr) it asks by default and the least it accepts, its privacy notice.

Levels are ordered as the operator lists them in `acr_values_supported`, lowest first
(Suomi.fi loa2 "substantial", then loa3 "high"). "At least X" is every supported level from X
up: the broker's acr_values are exact lists (SAML `exact`, OIDC Core §3.1.2.1), so a minimum
becomes the list of the levels that meet it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from broker.errors import ConfigError
from broker.store.records import ClientRecord
from broker.urls import is_https


def at_least(level: str, supported: Sequence[str]) -> tuple[str, ...]:
    """The supported levels from `level` up (nothing if it is not supported)."""
    return tuple(supported[supported.index(level) :]) if level in supported else ()


def effective_acr_values(
    requested: Sequence[str], client: ClientRecord, supported: Sequence[str]
) -> tuple[str, ...]:
    """What the login must reach: the request's acr_values less those under the portal's
    minimum (all of them under it: the minimum and up), or without acr_values the portal's
    default (else its minimum) and up; no policy, the request as it is."""
    floor = at_least(client.minimum_acr, supported) if client.minimum_acr else ()
    if requested:
        kept = tuple(v for v in requested if not floor or v in floor)
        return kept or floor
    if client.default_acr:
        return at_least(client.default_acr, supported)
    return floor


def meets_minimum(acr: str | None, client: ClientRecord, supported: Sequence[str]) -> bool:
    """Whether a login at `acr` may answer the portal (no minimum: any)."""
    return not client.minimum_acr or acr in at_least(client.minimum_acr, supported)


def offers(allowed: Collection[str], item: str) -> bool:
    """Whether a policy list allows `item`: an empty list allows everything."""
    return not allowed or item in allowed


def check_policy(
    client: ClientRecord,
    *,
    routes: Collection[str],
    idps: Collection[str],
    acr_values_supported: Sequence[str],
    development: bool,
) -> None:
    """Refuse a policy naming what the broker does not have; the message names the field and
    what is known."""
    cid = client.client_id
    if unknown := sorted(set(client.routes) - set(routes)):
        raise ConfigError(f"{cid}: routes: unknown {unknown}; known: {sorted(routes)}")
    if unknown := sorted(set(client.idps) - set(idps)):
        raise ConfigError(f"{cid}: idps: unknown {unknown}; known: {sorted(idps)}")
    for field, acr in (("default_acr", client.default_acr), ("minimum_acr", client.minimum_acr)):
        if acr is not None and acr not in acr_values_supported:
            raise ConfigError(f"{cid}: {field}: {acr!r} is not in {list(acr_values_supported)}")
    if (
        client.default_acr
        and client.minimum_acr
        and client.default_acr not in at_least(client.minimum_acr, acr_values_supported)
    ):
        raise ConfigError(f"{cid}: default_acr: below minimum_acr {client.minimum_acr}")
    if client.policy_uri is not None:
        check_policy_uri(client.policy_uri, development=development, field=f"{cid}: policy_uri")


def check_policy_uri(uri: str, *, development: bool, field: str) -> None:
    """A page people open: https in production, http(s) in development."""
    try:
        plain_ok = development and urlsplit(uri).scheme == "http" and bool(urlsplit(uri).hostname)
    except ValueError:
        plain_ok = False
    if not (plain_ok or is_https(uri)) or not uri.isprintable() or " " in uri:
        raise ConfigError(f"{field}: {uri!r} must be an https URL")
