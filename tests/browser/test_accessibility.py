"""axe-core (the copy bundled in the `axe-playwright-python` wheel) on the broker's four choice
pages, with axe's default rules: WCAG 2.x A and AA plus its best practices.

Only the broker's pages are held to this; the demo portal passed too when this was written, and
the mock IdP's login page fails `landmark-one-main` and `region` (it has no <main>), which is
acceptable for a mock that never reaches production.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import expect

from tests.browser.conftest import NewPage, PageProblems, Portal
from tests.browser.journey import FINNISH, STEPS, Journey, at

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def required_registration() -> tuple[str, ...]:
    """HUS shows the registration form here (`registration: required`): this module tests it."""
    return ("hus",)


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']} {node['html'][:200]}" for node in violation["nodes"])
    return "\n".join(lines)


async def test_broker_choice_pages_have_no_axe_violations(
    portal: Portal, new_page: NewPage, page_problems: PageProblems
) -> None:
    page_problems.expect(f"400: POST {portal.broker_url}/account/register")
    page_problems.expect(
        "console: Failed to load resource: the server responded with a status of 400"
    )
    axe = Axe()
    journey = Journey(await new_page(), portal, FINNISH)
    await journey.open_portal()
    await journey.start_login()
    found = {}
    for number, step in enumerate(STEPS, start=1):
        # axe needs the step's page loaded, not the one before it still navigating away (its
        # document is then null); broker_step checks it again before it chooses and moves on.
        heading = journey.page.get_by_role("heading", level=1, name=FINNISH.headings[step])
        await expect(heading).to_be_visible()
        await journey.page.wait_for_load_state("load")
        results = await axe.run(journey.page)
        found[step] = results.response["violations"]
        await journey.broker_step(step, number)
    await journey.idp_login()
    page = journey.page
    await expect(page).to_have_url(at(portal.broker_url, "/account/register"))
    found["register"] = (await axe.run(page)).response["violations"]
    await page.get_by_label(FINNISH.phone, exact=True).fill("12")
    await page.get_by_role("button", name=FINNISH.register_continue, exact=True).click()
    await expect(page.get_by_role("alert")).to_be_visible()
    found["register with errors"] = (await axe.run(page)).response["violations"]
    await page.get_by_label(FINNISH.phone, exact=True).fill("040 123 4567")
    await page.get_by_label(re.compile("^" + re.escape(FINNISH.eligible))).check()
    await page.get_by_role("button", name=FINNISH.register_continue, exact=True).click()
    await expect(page).to_have_url(at(portal.broker_url, "/account/confirm"))
    found["confirm"] = (await axe.run(page)).response["violations"]
    assert not any(found.values()), "\n".join(
        f"{step}:\n{described(violations)}" for step, violations in found.items() if violations
    )
