"""The catalogue's rules to the letter: each refusal of an imported CSV with its whole message,
the row limit at its edge, what is trimmed and what is optional; the search's matching (every
word, any language, the code, accents aside) and its order; what is offered (active only); and
seeding the store only when it is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.accounts.catalogue import (
    COLUMNS,
    MAX_ROWS,
    Catalogue,
    bundled_catalogue,
    fold,
    load_catalogue,
    read_catalogue_csv,
)
from broker.errors import ConfigError
from broker.store.accounts import PartnerOrganisationRecord
from broker.store.sqlite import SQLiteStore

HEADER = ",".join(COLUMNS)


def org(
    org_id: str,
    fi: str,
    *,
    kind: str = "school",
    sv: str | None = None,
    en: str | None = None,
    code: str | None = None,
    idp: str | None = None,
    active: bool = True,
) -> PartnerOrganisationRecord:
    return PartnerOrganisationRecord(
        org_id,
        kind,  # type: ignore[arg-type]
        {"fi": fi, "sv": sv or fi, "en": en or fi},
        code=code,
        idp_id=idp,
        active=active,
    )


LINE2 = "new.csv, line 2: "
ID_FORMAT = LINE2 + "id must look like kind:name (lower case), got "
MUNICIPALITY = LINE2 + "a municipality needs its three-digit code"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("", "new.csv: no organisations"),
        ("Bad Id,school,,A,B,C,", ID_FORMAT + "'Bad Id'"),
        ("school:" + "a" * 65 + ",school,,A,B,C,", ID_FORMAT + "'school:" + "a" * 65 + "'"),
        ("school,school,,A,B,C,", ID_FORMAT + "'school'"),
        ("school:a,college,,A,B,C,",
         LINE2 + "kind must be one of organisation, wellbeing_area, school, municipality"),
        ("municipality:x,municipality,,A,B,C,", MUNICIPALITY),
        ("municipality:x,municipality,0911,A,B,C,", MUNICIPALITY),
        ("municipality:x,municipality,09a,A,B,C,", MUNICIPALITY),
        ("school:a,school,,,B,C,", LINE2 + "name_fi is empty"),
        ("school:a,school,,A, ,C,", LINE2 + "name_sv is empty"),
        ("school:a,school,,A,B,,", LINE2 + "name_en is empty"),
        ("school:a,school", LINE2 + "name_fi is empty"),  # a short row
        ("school:a,school,,A,B,C,,x", LINE2 + "more fields than columns"),
        ("school:a,school,,A,B,C,\nschool:a,school,,A,B,C,",
         "new.csv, line 3: id school:a is listed twice"),
    ],
)  # fmt: skip
def test_each_refusal_names_the_file_the_line_and_the_problem(rows: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        read_catalogue_csv(f"{HEADER}\n{rows}\n" if rows else f"{HEADER}\n", "new.csv")
    assert str(refused.value) == message


def test_a_wrong_header_is_named_with_the_expected_one() -> None:
    for header in ("id,kind", ",".join(reversed(COLUMNS)), HEADER + ",extra", "", "X" + HEADER):
        with pytest.raises(ConfigError) as refused:
            read_catalogue_csv(f"{header}\nschool:a,school,,A,B,C,\n", "new.csv")
        assert str(refused.value) == (
            "new.csv: the header must be id,kind,code,name_fi,name_sv,name_en,idp"
        )


def test_the_row_limit_holds_at_its_edge() -> None:
    rows = [f"school:s{n},school,,A,B,C," for n in range(MAX_ROWS)]
    assert len(read_catalogue_csv("\n".join([HEADER, *rows]), "big.csv")) == MAX_ROWS == 10_000
    with pytest.raises(ConfigError) as refused:
        read_catalogue_csv("\n".join([HEADER, *rows, "school:last,school,,A,B,C,"]), "big.csv")
    assert str(refused.value) == "big.csv: more than 10000 rows"


def test_values_are_trimmed_and_the_optional_ones_may_be_blank() -> None:
    text = (
        f"{HEADER}\n"
        " municipality:091 , municipality , 091 , Helsinki , Helsingfors , Helsinki , \n"
        "org:hus,organisation,, HUS ,HUS,HUS, hus \n"
        "school:a.b-c_d,school,,A,B,C,\n"
    )
    helsinki, hus, school = read_catalogue_csv(text, "new.csv")
    assert helsinki == org(
        "municipality:091", "Helsinki", kind="municipality", sv="Helsingfors", code="091"
    )
    assert hus == org("org:hus", "HUS", kind="organisation", idp="hus")
    assert (school.org_id, school.code, school.idp_id) == ("school:a.b-c_d", None, None)
    assert read_catalogue_csv(f"{HEADER}\nschool:{'a' * 64},school,,A,B,C,\n", "x")[0].org_id == (
        "school:" + "a" * 64
    )


def test_the_bundled_catalogue_is_read_from_the_package() -> None:
    organisations = bundled_catalogue()
    assert organisations[0].org_id and len(organisations) > 350
    assert any(o.org_id == "org:hus" and o.idp_id == "hus" for o in organisations)


def test_fold_drops_case_and_accents_only() -> None:
    assert fold("Hämeenlinna") == "hameenlinna"
    assert fold("ÅLAND Öö") == "aland oo"
    assert fold("Straße") == "strasse"  # casefold, not lower
    assert fold("Mäntsälä 505") == "mantsala 505"


CATALOGUE = Catalogue(
    [
        org("school:b", "Sairaanhoito-opisto", sv="Sjukvårdsinstitutet", en="Nursing College"),
        org("school:a", "Ammattiopisto Hoiva", en="Care College"),
        org("municipality:505", "Mäntsälä", kind="municipality", code="505"),
        org("org:hus", "HUS Helsingin yliopistollinen sairaala", kind="organisation", idp="hus"),
        org("org:old", "Vanha sairaala", kind="organisation", idp="hus", active=False),
        org("org:hus2", "HUS Kuvantaminen", kind="organisation", idp="hus"),
    ]
)


def ids(found: list[PartnerOrganisationRecord]) -> list[str]:
    return [o.org_id for o in found]


def test_what_is_offered_is_the_active_organisations() -> None:
    assert CATALOGUE.get("org:old") is not None and CATALOGUE.get("org:none") is None
    assert CATALOGUE.choosable("org:hus") is True
    assert CATALOGUE.choosable("org:old") is False
    assert CATALOGUE.choosable("org:none") is False
    assert ids(CATALOGUE.by_idp("hus")) == ["org:hus", "org:hus2"]
    assert CATALOGUE.by_idp("other") == []


def test_search_needs_every_word_in_any_language_or_the_code() -> None:
    assert ids(CATALOGUE.search("sairaala hus", "fi")) == ["org:hus"]
    assert ids(CATALOGUE.search("sairaala", "fi")) == ["org:hus"]  # not the inactive one
    assert ids(CATALOGUE.search("sjukvard", "fi")) == ["school:b"]
    assert ids(CATALOGUE.search("MANTSALA", "fi")) == ["municipality:505"]
    assert ids(CATALOGUE.search("505", "fi")) == ["municipality:505"]
    assert ids(CATALOGUE.search("college", "fi", kinds=["organisation"])) == []


def test_search_puts_names_that_start_with_the_query_first_then_sorts_in_the_locale() -> None:
    assert ids(CATALOGUE.search("college", "en")) == ["school:a", "school:b"]  # Care, Nursing
    assert ids(CATALOGUE.search("college", "fi")) == ["school:a", "school:b"]  # Ammatti, Sairaan
    assert ids(CATALOGUE.search("opisto", "fi")) == ["school:a", "org:hus", "school:b"]
    assert ids(CATALOGUE.search("sairaanhoito opisto", "fi")) == ["school:b"]
    assert ids(CATALOGUE.search("n", "en"))[:2] == ["school:b", "org:hus"]  # Nursing first
    assert ids(CATALOGUE.search("hus", "sv")) == ["org:hus", "org:hus2"]
    assert ids(CATALOGUE.search("o", "de"))[:1] == ["school:a"]  # no such locale: Finnish
    everything = CATALOGUE.search("", "fi")
    assert ids(everything) == [
        "school:a",
        "org:hus",
        "org:hus2",
        "municipality:505",
        "school:b",
    ]
    assert len(CATALOGUE.search("", "fi", limit=2)) == 2


async def test_only_an_empty_store_is_seeded(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    try:
        seeded = await load_catalogue(store.accounts, 1.0)
        assert seeded.choosable("org:hus") and seeded.choosable("municipality:091")
        await store.accounts.replace_partner_organisations([org("school:only", "Ainoa")], 2.0)
        again = await load_catalogue(store.accounts, 3.0)
        assert again.choosable("school:only") and not again.choosable("org:hus")
        assert again.get("org:hus") is not None  # inactive, still known for old accounts
    finally:
        await store.close()
