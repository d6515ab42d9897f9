"""The demo portal's profile pre-fill from released claims (the partner organisations are not
produced by today's journey yet; the flow test covers title and organisation)."""

from __future__ import annotations

from typing import Any

from mock_idps.demo_portal.prefill import prefill


def partner(kind: str, fi: str, sv: str = "", org_id: str = "x") -> dict[str, Any]:
    return {"id": org_id, "kind": kind, "code": None, "names": {"fi": fi, "sv": sv, "en": fi}}


def test_the_first_wellbeing_area_partner_wins_over_the_organisation() -> None:
    claims = {
        "title": "lääkäri",
        "organisation_id": "pirha",
        "partner_organisations": [
            partner("school", "Tampereen yliopisto"),
            partner("wellbeing_area", "Helsingin kaupunki (sosiaali- ja terveyspalvelut)"),
            partner("wellbeing_area", "Lapin hyvinvointialue"),
        ],
    }
    assert prefill(claims) == ("laakari", "helsinki")


def test_swedish_name_and_organisation_partners_map_to_an_area() -> None:
    by_swedish = [partner("wellbeing_area", "?", "Österbottens välfärdsområde")]
    assert prefill({"partner_organisations": by_swedish}) == ("", "pohjanmaa")
    organisation = [partner("organisation", "OYS", org_id="org:oys")]
    assert prefill({"partner_organisations": organisation, "title": "Physician"}) == (
        "laakari",
        "pohjois-pohjanmaa",
    )


def test_nothing_that_fits_leaves_the_choice_empty() -> None:
    assert prefill({}) == ("", "")
    assert prefill({"title": "Ylilääkäri", "organisation_id": "hus"}) == ("", "")
    assert prefill({"partner_organisations": "not a list", "title": 7}) == ("", "")
    unknown_area = [partner("wellbeing_area", "Ålands hälso- och sjukvård (ÅHS)")]
    assert prefill({"partner_organisations": unknown_area}) == ("", "")
