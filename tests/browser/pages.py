"""What the accessibility and keyboard tests share: axe-core on a page at a phone and a desktop
width, screenshots, and the check that the focused element shows it is focused.

axe-core is the copy bundled in the `axe-playwright-python` wheel, with its default rules: WCAG
2.x A and AA plus its best practices. Screenshots go to `test-artifacts/screenshots/` (or
`$SCREENSHOT_DIR`), named `<page>-<lang>-<width>.png`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Locator, Page

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
REPO = Path(__file__).parents[2]


def screenshot_dir() -> Path:
    directory = Path(os.environ.get("SCREENSHOT_DIR") or REPO / "test-artifacts" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']} {node['html'][:200]}" for node in violation["nodes"])
    return "\n".join(lines)


LOOKS = """() => {
  const problems = [];
  const shown = (el) =>
    el.getClientRects().length > 0 && !el.closest(".visually-hidden, .skip-link");
  const inSentence = (el) => el.parentElement.textContent.trim() !== el.textContent.trim();
  const targets = document.querySelectorAll(
    "main a[href], main button, main input:not([type=hidden]), main select, main textarea, " +
    "header a");
  for (const el of targets) {
    if (!shown(el) || (el.tagName === "A" && inSentence(el))) continue;
    let box = el.getBoundingClientRect();
    if (el.type === "checkbox" || el.type === "radio") {
      const label = el.id && document.querySelector(`label[for="${el.id}"]`);
      box = label ? label.getBoundingClientRect() : box;
    }
    if (box.height < 44 - 0.5) {
      problems.push(`${Math.round(box.height)} px high: ${el.outerHTML.slice(0, 100)}`);
    }
  }
  const fields = document.querySelectorAll(
    "main input:not([type]), main input[type=text], main input[type=email], " +
    "main input[type=tel], main input[type=search], main select");
  const looks = new Set();
  for (const el of fields) {
    if (!shown(el) || el.getAttribute("aria-invalid") === "true") continue;
    const s = getComputedStyle(el);
    const look = [s.borderTopStyle, s.borderTopColor, s.borderRadius, s.fontSize, s.paddingLeft];
    looks.add(look.join(" "));
  }
  if (looks.size > 1) problems.push("fields styled differently: " + [...looks].join(" | "));
  return problems;
}"""
"""Targets under 44 px high (a link inside a sentence aside; a checkbox counts with its label),
and text fields that do not look alike: what axe's default rules do not check."""


@dataclass
class AxeTour:
    """axe's violations of each page visited, at each width: {(page, lang, width): [...]}.
    One visit per page: the viewport is resized between the runs, not the journey redone."""

    lang: str
    found: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    axe: Axe = field(default_factory=Axe)

    async def check(self, page: Page, name: str) -> None:
        await page.wait_for_load_state("load")
        for width, size in WIDTHS.items():
            await page.set_viewport_size(size)
            results = await self.axe.run(page)
            looks = [
                {"id": "targets-and-fields", "impact": "serious", "help": problem, "nodes": []}
                for problem in await page.evaluate(LOOKS)
            ]
            self.found[(name, self.lang, width)] = results.response["violations"] + looks
            await page.screenshot(
                path=screenshot_dir() / f"{name}-{self.lang}-{width}.png", full_page=True
            )
        await page.set_viewport_size(PHONE)

    def table(self) -> str:
        """page x width → violation count, one line per page (for the report and the log)."""
        return "\n".join(
            f"{name:24} {lang} {width:7} {len(violations)}"
            for (name, lang, width), violations in self.found.items()
        )

    def failures(self) -> str:
        return "\n".join(
            f"{name} ({lang}, {width}):\n{described(violations)}"
            for (name, lang, width), violations in self.found.items()
            if violations
        )


FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "nothing focused";
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  if (outline || style.boxShadow !== "none") return "";
  return "focus not shown: " + el.outerHTML.slice(0, 160);
}"""


async def focus_problem(page: Page) -> str:
    """Empty if the focused element draws a focus indicator (an outline of 2 px or more, or a
    ring), else what is focused."""
    result: str = await page.evaluate(FOCUS_SHOWN)
    return result


async def is_focused(target: Locator) -> bool:
    focused: bool = await target.evaluate("el => el === document.activeElement")
    return focused


async def tab_to(
    page: Page, target: Locator, *, backwards: bool = False, check_focus: bool = True
) -> None:
    """Tab (or Shift+Tab) until `target` has the focus, checking at every stop on the way that
    the focus can be seen (`check_focus`: on the broker's pages, not on the mocks')."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(40):
        if await is_focused(target):
            return
        await page.keyboard.press(key)
        if check_focus:
            problem = await focus_problem(page)
            assert not problem, f"{page.url}: {problem}"
    raise AssertionError(f"{page.url}: {key} never reached {target}")
