"""axe-core (the copy bundled in the `axe-playwright-python` wheel) on the broker's four choice
pages, with axe's default rules: WCAG 2.x A and AA plus its best practices.

Only the broker's pages are held to this; the demo portal passed too when this was written, and
the mock IdP's login page fails `landmark-one-main` and `region` (it has no <main>), which is
acceptable for a mock that never reaches production.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]

from tests.browser.conftest import NewPage, Portal
from tests.browser.journey import FINNISH, STEPS, Journey

pytestmark = pytest.mark.asyncio(loop_scope="session")


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']} {node['html'][:200]}" for node in violation["nodes"])
    return "\n".join(lines)


async def test_broker_choice_pages_have_no_axe_violations(
    portal: Portal, new_page: NewPage
) -> None:
    axe = Axe()
    journey = Journey(await new_page(), portal, FINNISH)
    await journey.open_portal()
    await journey.start_login()
    found = {}
    for number, step in enumerate(STEPS, start=1):
        # broker_step checks that this is the step's page before it chooses and moves on.
        results = await axe.run(journey.page)
        found[step] = results.response["violations"]
        await journey.broker_step(step, number)
    assert not any(found.values()), "\n".join(
        f"{step}:\n{described(violations)}" for step, violations in found.items() if violations
    )
