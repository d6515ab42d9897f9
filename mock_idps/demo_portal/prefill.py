"""The profile form's first answers, from what the broker released (the `professional` scope):
the portal's own choices, which the person can still change.

- Ammattiryhmä: the `title` claim, when it is one of the options (its name in any language).
- Hyvinvointialue: the first partner organisation of kind `wellbeing_area`, by its Finnish or
  Swedish name; else an organisation that belongs to an area (a partner organisation of kind
  `organisation`, then the `organisation_id` of the login), by `ORGANISATION_AREAS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mock_idps.demo_portal.texts import AMMATTIRYHMAT, HYVINVOINTIALUEET, ORGANISATION_AREAS

_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")  # "Helsingin kaupunki (sosiaali- ja ...)"


def prefill(claims: Mapping[str, Any]) -> tuple[str, str]:
    """(ammattiryhmä key, hyvinvointialue key); "" where nothing fits."""
    return _ryhma(claims.get("title")), _alue(claims)


def _ryhma(title: object) -> str:
    if not isinstance(title, str):
        return ""
    wanted = title.strip().casefold()
    for key, labels in AMMATTIRYHMAT.items():
        if wanted in (label.casefold() for label in labels):
            return key
    return ""


def _alue(claims: Mapping[str, Any]) -> str:
    partners = claims.get("partner_organisations")
    partners = [p for p in partners if isinstance(p, dict)] if isinstance(partners, list) else []
    for partner in partners:
        if partner.get("kind") == "wellbeing_area" and (key := _area_by_name(partner)):
            return key
    organisations = [str(p.get("id", "")) for p in partners if p.get("kind") == "organisation"]
    organisations.append(str(claims.get("organisation_id") or ""))
    for organisation in organisations:
        if key := ORGANISATION_AREAS.get(organisation.removeprefix("org:"), ""):
            return key
    return ""


def _area_by_name(partner: Mapping[str, Any]) -> str:
    names = partner.get("names")
    if not isinstance(names, dict):
        return ""
    given = {_plain(names.get("fi")), _plain(names.get("sv"))} - {""}
    for key, (fi, sv) in HYVINVOINTIALUEET.items():
        if given & {_plain(fi), _plain(sv)}:
            return key
    return ""


def _plain(name: object) -> str:
    return _QUALIFIER.sub("", name).strip().casefold() if isinstance(name, str) else ""
