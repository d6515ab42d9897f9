"""The organisation page's search without JavaScript: `GET /login/organisation?q=` marks the
organisations it does not match `hidden` (the page's script filters the same list as the person
types), by name or abbreviation in any of the three languages, case and accents aside; a search
that matches nothing says so and links back to the whole list."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.login_walk import choose
from tests.portal_client import portal_client, start
from tests.worlds import JourneyWorld

ITEM = re.compile(
    r'<li data-search="[^"]*"( hidden)?>\s*<button type="submit" name="choice" value="([^"]+)"'
)


async def at_organisation_page(
    world: JourneyWorld, browser: httpx.AsyncClient, ui_locales: str
) -> None:
    await world.broker.add_client()
    auth = await start(portal_client(world.broker), ui_locales=ui_locales)
    assert (await browser.get(auth.url)).status_code == 303
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", "yliopistosairaanhoitopiirit"),
    ):
        assert (await choose(browser, world.broker.url, path, choice)).status_code == 303


def shown(html: str) -> set[str]:
    return {value for hidden, value in ITEM.findall(html) if not hidden}


async def search(world: JourneyWorld, browser: httpx.AsyncClient, query: str) -> str:
    page = await browser.get(world.broker.url + "/login/organisation", params={"q": query})
    assert page.status_code == 200, page.text
    return page.text


@pytest.mark.parametrize(
    ("ui_locales", "query", "found"),
    [
        ("fi", "PSHVA", {"pshva"}),  # the abbreviation
        ("fi", "helsingin", {"hus"}),  # a word of the Finnish name
        ("fi", "birkalands valfard", {"pirha"}),  # Swedish, without its accents, on a Finnish page
        ("sv", "pirha", {"pirha"}),
        ("sv", "helsingfors nyland", {"hus"}),  # every word must match
        ("en", "north savo", {"pshva"}),
    ],
)
async def test_the_search_shows_what_it_matches_and_hides_the_rest(
    world: JourneyWorld, browser: httpx.AsyncClient, ui_locales: str, query: str, found: set[str]
) -> None:
    await at_organisation_page(world, browser, ui_locales)
    everything = await search(world, browser, "")
    assert shown(everything) >= {"hus", "pirha", "pshva"}
    assert "search.js" in everything and 'role="search"' in everything
    html = await search(world, browser, query)
    assert shown(html) == found
    assert {value for _, value in ITEM.findall(html)} == {v for _, v in ITEM.findall(everything)}
    assert re.search(r'aria-live="polite"[^>]*>[^<]*: 1\s*</p>', html), html
    assert f'value="{query}"' in html  # the field keeps what was typed


async def test_a_search_without_matches_says_so_and_links_to_the_whole_list(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    await at_organisation_page(world, browser, "fi")
    html = await search(world, browser, "xyzzy")
    assert shown(html) == set()
    assert "Yksikään organisaatio ei vastaa hakua" in html
    assert 'href="/login/organisation">Näytä kaikki organisaatiot</a>' in html
    unsearched = await search(world, browser, "")
    assert "Näytä kaikki organisaatiot" not in unsearched
    assert " hidden>" not in unsearched


async def test_a_huge_or_odd_search_is_cut_and_matched_literally(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    """A 10 000-character query is cut to its first 100 characters, not a 500; pattern
    characters are plain text (".*" matches no organisation); markup is escaped."""
    await at_organisation_page(world, browser, "fi")
    assert shown(await search(world, browser, "a" * 10_000)) == set()
    assert shown(await search(world, browser, "PSHVA" + " " * 95 + "x" * 9_900)) == {"pshva"}
    assert shown(await search(world, browser, ".*")) == set()
    page = await search(world, browser, '<script>alert(1)</script>"')
    assert "<script>alert(1)</script>" not in page
