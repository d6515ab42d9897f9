"""The catalogue of partner organisations (yhteistyöorganisaatiot) a professional can choose at
registration: the organisations connected to the broker, the wellbeing areas, schools that
educate social and health-care professionals (universities, universities of applied sciences and
the vocational institutions that train practical nurses and other social and health-care
workers: for students), and every Finnish municipality
with its official code (for private practitioners and people whose workplace is not listed).

It is data: `data/partner_organisations.csv` seeds the store on first start, and
`sote-broker catalogue import FILE.csv` replaces it (an organisation dropped from the file is no
longer offered, but stays on the accounts that chose it). CSV columns, UTF-8, a header row:

    id        stable identifier, e.g. `municipality:091`, `area:pirkanmaa`, `school:tamk`
    kind      organisation | wellbeing_area | school | municipality
    code      the official code where there is one (municipality: Statistics Finland's 3 digits)
    name_fi, name_sv, name_en
    idp       the IdP id in idp_configs/ where the organisation logs in through the broker

The municipalities are Statistics Finland's classification of municipalities (kunnat), with the
Swedish name where the municipality has one and the Finnish name otherwise.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Final, cast, get_args

from broker.errors import ConfigError
from broker.store.accounts import AccountStore, OrgKind, PartnerOrganisationRecord

__all__ = ["Catalogue", "bundled_catalogue", "fold", "load_catalogue", "read_catalogue_csv"]

COLUMNS: Final = ("id", "kind", "code", "name_fi", "name_sv", "name_en", "idp")
KINDS: Final[tuple[str, ...]] = get_args(OrgKind)
MAX_ROWS: Final = 10_000
_ID_RE: Final = re.compile(r"^[a-z_]+:[a-z0-9_.-]{1,64}$")
_MUNICIPALITY_CODE_RE: Final = re.compile(r"^\d{3}$")


def read_catalogue_csv(text: str, source: str) -> list[PartnerOrganisationRecord]:
    """Every row checked; a ConfigError names the source, the line and what is wrong."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ConfigError(f"{source}: the header must be {','.join(COLUMNS)}")
    found: dict[str, PartnerOrganisationRecord] = {}
    for row in reader:
        line = reader.line_num
        if len(found) >= MAX_ROWS:
            raise ConfigError(f"{source}: more than {MAX_ROWS} rows")
        org = _organisation(row, f"{source}, line {line}")
        if org.org_id in found:
            raise ConfigError(f"{source}, line {line}: id {org.org_id} is listed twice")
        found[org.org_id] = org
    if not found:
        raise ConfigError(f"{source}: no organisations")
    return list(found.values())


def _organisation(row: dict[str, str | None], where: str) -> PartnerOrganisationRecord:
    values = {key: (value or "").strip() for key, value in row.items() if key is not None}
    if None in row:
        raise ConfigError(f"{where}: more fields than columns")
    org_id, kind, code = values["id"], values["kind"], values["code"] or None
    if not _ID_RE.match(org_id):
        raise ConfigError(f"{where}: id must look like kind:name (lower case), got {org_id!r}")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if kind == "municipality" and not (code and _MUNICIPALITY_CODE_RE.match(code)):
        raise ConfigError(f"{where}: a municipality needs its three-digit code")
    names = {lang: values[f"name_{lang}"] for lang in ("fi", "sv", "en")}
    if missing := [lang for lang, name in names.items() if not name]:
        raise ConfigError(f"{where}: name_{missing[0]} is empty")
    return PartnerOrganisationRecord(
        org_id=org_id,
        kind=cast(OrgKind, kind),
        names=names,
        code=code,
        idp_id=values["idp"] or None,
    )


def bundled_catalogue() -> list[PartnerOrganisationRecord]:
    """The catalogue that ships with the broker (seeds an empty store)."""
    data = resources.files("broker.accounts").joinpath("data/partner_organisations.csv")
    return read_catalogue_csv(data.read_text("utf-8"), "partner_organisations.csv")


class Catalogue:
    """The choosable organisations, searchable in the person's language without JavaScript:
    the page sends the query and shows what matches."""

    def __init__(self, organisations: Iterable[PartnerOrganisationRecord]) -> None:
        self._by_id = {org.org_id: org for org in organisations}
        self._keys = {
            org.org_id: [fold(name) for name in org.names.values()] + [org.code or ""]
            for org in self._by_id.values()
        }

    def get(self, org_id: str) -> PartnerOrganisationRecord | None:
        return self._by_id.get(org_id)

    def by_idp(self, idp_id: str) -> list[PartnerOrganisationRecord]:
        """The active organisations that log in through this IdP."""
        return [org for org in self._by_id.values() if org.active and org.idp_id == idp_id]

    def choosable(self, org_id: str) -> bool:
        org = self._by_id.get(org_id)
        return org is not None and org.active

    def search(
        self, query: str, locale: str, *, kinds: Sequence[str] = KINDS, limit: int = 30
    ) -> list[PartnerOrganisationRecord]:
        """Active organisations of `kinds` whose name (in any language) or code contains every
        word of `query`, case and accents aside (`hameenlinna` finds Hämeenlinna); names that
        start with the query first, then alphabetically in `locale`."""
        words = fold(query).split()
        found = [
            org
            for org in self._by_id.values()
            if org.active
            and org.kind in kinds
            and all(any(word in key for key in self._keys[org.org_id]) for word in words)
        ]
        start = fold(query).strip()

        def order(org: PartnerOrganisationRecord) -> tuple[bool, str]:
            name = fold(org.names.get(locale, org.names["fi"]))
            return (not (start and name.startswith(start)), name)

        return sorted(found, key=order)[:limit]


def fold(text: str) -> str:
    """Lower case without accents, for matching only (å, ä and ö fold to a and o); the
    organisation page's search folds the same way."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


async def load_catalogue(store: AccountStore, now: float) -> Catalogue:
    """The store's catalogue; an empty store is seeded with the bundled one first."""
    organisations = await store.partner_organisations(include_inactive=True)
    if not organisations:
        await store.replace_partner_organisations(bundled_catalogue(), now)
        organisations = await store.partner_organisations(include_inactive=True)
    return Catalogue(organisations)
