"""The partner-organisation catalogue: the bundled data, the CSV an operator imports, and the
search that the registration page runs without JavaScript."""

from __future__ import annotations

from collections import Counter

import pytest

from broker.accounts.catalogue import (
    COLUMNS,
    Catalogue,
    bundled_catalogue,
    read_catalogue_csv,
)
from broker.errors import ConfigError
from broker.upstream.idp_files import load_registry
from tests.worlds import REPO_IDP_CONFIGS

HEADER = ",".join(COLUMNS)


def test_the_bundled_catalogue_has_every_kind_and_every_municipality_once() -> None:
    organisations = bundled_catalogue()
    kinds = Counter(org.kind for org in organisations)
    assert kinds["municipality"] == 309
    assert kinds["wellbeing_area"] == 23  # 21 areas, the city of Helsinki and Åland
    assert kinds["school"] >= 20 and kinds["organisation"] >= 3
    codes = [org.code for org in organisations if org.kind == "municipality"]
    assert len(set(codes)) == len(codes)
    helsinki = next(org for org in organisations if org.code == "091")
    assert helsinki.names == {"fi": "Helsinki", "sv": "Helsingfors", "en": "Helsinki"}


def test_each_connected_organisation_names_an_idp_of_idp_configs() -> None:
    registry = load_registry(REPO_IDP_CONFIGS, development=True)
    connected = {org.idp_id for org in bundled_catalogue() if org.idp_id}
    organisation_idps = {idp.id for idp in registry.idps() if idp.route == "organisation"}
    assert connected == organisation_idps


@pytest.mark.parametrize(
    ("query", "locale", "first"),
    [
        ("hameenlinna", "fi", "municipality:109"),  # no accents typed
        ("Tavastehus", "sv", "municipality:109"),  # the Swedish name
        ("091", "fi", "municipality:091"),  # the code
        ("tampereen ammattikorkeakoulu", "fi", "school:tamk"),
        ("pirkanmaa", "fi", "area:pirkanmaa"),
        ("Birkalands", "sv", "area:pirkanmaa"),
        ("university of turku", "en", "school:turku"),
    ],
)
def test_search_finds_names_in_any_language_and_codes(query: str, locale: str, first: str) -> None:
    found = Catalogue(bundled_catalogue()).search(query, locale)
    assert found and found[0].org_id == first


def test_search_can_keep_to_kinds_and_limits_its_answer() -> None:
    catalogue = Catalogue(bundled_catalogue())
    assert {org.kind for org in catalogue.search("", "fi", kinds=["school"], limit=500)} == {
        "school"
    }
    assert len(catalogue.search("a", "fi")) == 30
    assert catalogue.search("no such place anywhere", "fi") == []


@pytest.mark.parametrize(
    ("csv", "problem"),
    [
        ("id,kind\nx:y,school\n", "the header must be"),
        (f"{HEADER}\n", "no organisations"),
        (f"{HEADER}\nBad Id,school,,A,B,C,\n", "line 2: id must look like"),
        (f"{HEADER}\nschool:a,college,,A,B,C,\n", "kind must be one of"),
        (f"{HEADER}\nmunicipality:1,municipality,1,A,B,C,\n", "three-digit code"),
        (f"{HEADER}\nschool:a,school,,A,,C,\n", "name_sv is empty"),
        (f"{HEADER}\nschool:a,school,,A,B,C,\nschool:a,school,,A,B,C,\n", "line 3: id school:a"),
        (f"{HEADER}\nschool:a,school,,A,B,C,,extra\n", "more fields than columns"),
    ],
)
def test_a_bad_csv_names_the_line_and_the_problem(csv: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as refused:
        read_catalogue_csv(csv, "new.csv")
    assert str(refused.value).startswith("new.csv")


def test_a_csv_with_a_byte_order_mark_and_blank_optional_fields_reads() -> None:
    text = f"\ufeff{HEADER}\r\nschool:a,school,,Koulu,Skola,School,\r\n"
    (org,) = read_catalogue_csv(text, "excel.csv")
    assert (org.org_id, org.code, org.idp_id) == ("school:a", None, None)
