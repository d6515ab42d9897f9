"""The choice pages' options (`steps.py`) where the flow tests cannot see them: what the
organisation search matches."""

from __future__ import annotations

from broker.accounts.catalogue import fold
from broker.journey.steps import Choices, JourneyMap, Step
from broker.upstream.idp_files import load_registry
from tests.journey.conftest import REPO_CONFIGS


def test_an_organisation_is_found_by_its_names_in_every_language_and_its_id() -> None:
    registry = load_registry(REPO_CONFIGS, development=True)
    choices = Choices("professional", "organisation", "yliopistosairaanhoitopiirit")
    [hus] = [
        o
        for o in JourneyMap(lambda: registry).options(Step.ORGANISATION, choices, "sv")
        if o.id == "hus"
    ]
    idp = registry.idp("hus")
    assert idp is not None
    words = [idp.names.fi, idp.names.sv, idp.names.en, "hus"]
    assert hus.search == " ".join(fold(w) for w in words)  # folded: "sjukvardsdistrikt"
    assert "sjukvardsdistrikt" in hus.search
    assert hus.matches("helsingfors HUS") and hus.matches("Nylands")
    assert not hus.matches("xx") and not hus.matches("oulu")


def test_each_choice_is_offered_by_its_name_and_description_in_the_pages_language() -> None:
    registry = load_registry(REPO_CONFIGS, development=True)
    steps = JourneyMap(lambda: registry)
    route = registry.route("organisation")
    assert route is not None and route.descriptions
    for locale in ("fi", "sv", "en"):
        routes = steps.options(Step.ROUTE, Choices("professional", None, None), locale)
        [shown] = [o for o in routes if o.id == "organisation"]
        assert (shown.name, shown.description) == (
            route.names.get(locale),
            route.descriptions.get(locale),
        )
        assert shown.name and shown.description
        hus = registry.idp("hus")
        assert hus is not None
        choices = Choices("professional", "organisation", "yliopistosairaanhoitopiirit")
        [org] = [o for o in steps.options(Step.ORGANISATION, choices, locale) if o.id == "hus"]
        assert org.name == hus.names.get(locale) and org.name


def test_a_choice_the_journey_does_not_have_is_asked_again() -> None:
    registry = load_registry(REPO_CONFIGS, development=True)
    steps = JourneyMap(lambda: registry)
    assert steps.first_open_step(Choices(None, None, None)) is Step.ROLE
    assert steps.first_open_step(Choices("nosuch", None, None)) is Step.ROLE
    assert steps.first_open_step(Choices("professional", "nosuch", None)) is Step.ROUTE
    group = Choices("professional", "organisation", "nosuch")
    assert steps.first_open_step(group) is Step.GROUP
    chosen = Choices("professional", "organisation", "yliopistosairaanhoitopiirit")
    assert steps.first_open_step(chosen) is Step.ORGANISATION
