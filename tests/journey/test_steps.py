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
