"""`sote-broker idps list|check|reload`: the upstream IdPs of `idp_configs/` as configured, as
they answer now (`broker.upstream.probe`), and reading their files again in every running
process without a restart (`broker.idp_reload`).

`check` exits 0 when no IdP has an error (warnings included), 1 when any has; a directory that
does not load, or an unknown IdP id, is exit 2 with the message, as every command's ConfigError.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from broker import __version__
from broker.assembly import load_idps
from broker.cli_store import run_with_store
from broker.clock import SystemClock
from broker.errors import ConfigError
from broker.settings import Settings
from broker.store.base import Store
from broker.upstream.probe import IdPProber, ProbeResult
from broker.upstream.registry import IdP, Registry


def add_parsers(commands: Any) -> None:
    idps = commands.add_parser("idps", help="upstream IdPs: list, check, reload")
    actions = idps.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one line per IdP (SAML: metadata dates fetched)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    check = actions.add_parser("check", help="probe IdPs now; exit 1 if any has an error")
    check.add_argument("idp_ids", nargs="*", metavar="IDP_ID", help="default: every IdP")
    check.add_argument(
        "--warn-days",
        type=float,
        help="warn of metadata or a signing certificate expiring within this many days "
        "(default: settings idps.probe.expiry_warning_days)",
    )
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=_check)
    reload = actions.add_parser(
        "reload", help="validate idp_configs/, then make every running broker read it again"
    )
    reload.set_defaults(func=_reload)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    registry = load_idps(settings)
    idps = registry.idps()
    found = {r.idp_id: r for r in _probe(settings, [i for i in idps if i.saml], None)}
    rows = [_listed(registry, idp, found.get(idp.id)) for idp in idps]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print("\t".join(str(row[k]) for k in _LIST_COLUMNS))
    return 0


_LIST_COLUMNS = (
    "id",
    "protocol",
    "group",
    "registration",
    "source",
    "metadata_valid_until",
    "signing_certificate_expires",
)


def _listed(registry: Registry, idp: IdP, probed: ProbeResult | None) -> dict[str, str]:
    saml = idp.saml
    source = (
        (str(saml.metadata_file) if saml.metadata_file else str(saml.metadata_url))
        if saml
        else idp.oidc_settings.metadata_url
    )
    return {
        "id": idp.id,
        "protocol": idp.protocol,
        "group": idp.group or "-",
        "registration": registry.registration(idp),
        "source": source,
        "metadata_valid_until": _when(probed.valid_until if probed else None),
        "signing_certificate_expires": _when(probed.signing_expires if probed else None),
    }


def _check(settings: Settings, args: argparse.Namespace) -> int:
    registry = load_idps(settings)
    idps = registry.idps()
    if args.idp_ids:
        known = {i.id: i for i in idps}
        if unknown := [i for i in args.idp_ids if i not in known]:
            names = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"no IdP {', '.join(unknown)} (known: {names})")
        idps = [known[i] for i in args.idp_ids]
    results = _probe(settings, idps, args.warn_days)
    if args.json:
        print(json.dumps([_result(r) for r in results], indent=2))
    else:
        for r in results:
            print(f"{r.idp_id}\t{r.status}\t{r.reason}")
    return 1 if any(r.status == "error" for r in results) else 0


def _probe(settings: Settings, idps: list[IdP], warn_days: float | None) -> list[ProbeResult]:
    days = settings.idps.probe.expiry_warning_days if warn_days is None else warn_days

    async def probe() -> list[ProbeResult]:
        headers = {"User-Agent": f"sote-broker/{__version__}"}
        async with httpx.AsyncClient(headers=headers) as http:
            prober = IdPProber(
                http,
                SystemClock(),
                warn_seconds=days * 86400,
                crypto_backend=settings.saml_sp.crypto_backend,
                clock_skew=settings.tokens.clock_skew,
            )
            return await prober.probe_all(idps)

    return asyncio.run(probe()) if idps else []


def _result(result: ProbeResult) -> dict[str, Any]:
    return {
        "id": result.idp_id,
        "status": result.status,
        "reason": result.reason,
        "metadata_valid_until": _when(result.valid_until, ""),
        "signing_certificate_expires": _when(result.signing_expires, ""),
    }


def _reload(settings: Settings, args: argparse.Namespace) -> int:
    """The directory is loaded and every OIDC secret resolved first, as a broker would at
    start-up: a file that would not load is refused here, and nothing changes."""
    if settings.idp_configs is None:
        raise ConfigError("idp_configs: not set in the settings; there is nothing to reload")
    idps = load_idps(settings).idps()
    for idp in idps:
        if idp.oidc is not None:
            try:
                idp.oidc.client_secret.resolve()
            except ConfigError as exc:
                raise ConfigError(f"{idp.id}.yaml: oidc.client_secret: {exc}") from exc

    async def request(store: Store) -> int:
        return await store.idp_reloads.request(time.time())

    generation = run_with_store(settings, request)
    names = ", ".join(i.id for i in idps) or "none"
    print(f"ok: {len(idps)} IdP(s) valid: {names}")
    print(
        f"reload requested (generation {generation}); every running broker reads its "
        f"idp_configs/ again within idps.reload_check_seconds "
        f"({settings.idps.reload_check_seconds:g} s), at its next request"
    )
    return 0


def _when(moment: float | None, missing: str = "-") -> str:
    if moment is None:
        return missing
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
