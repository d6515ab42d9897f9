"""The deployment's branding through a running broker: the support contact and opening hours on
an error page in each language, the colours as a stylesheet, the logo; a colour too light
against white stops start-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.brokers import RunningBroker, make_settings, start_broker

SUPPORT: dict[str, Any] = {
    "phone": "+358 9 123 4567",
    "email": "tuki@tunnistus.example",
    "url": "https://tuki.tunnistus.example/ohjeet",
    "hours": {"fi": "ma-pe 8-16", "sv": "mån-fre 8-16", "en": "Mon-Fri 8am-4pm"},
}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def branded(tmp_path: Path, broker_keys: Path) -> Iterator[RunningBroker]:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    branding = {
        "logo": logo,
        "logo_alt": "Tunnistuspalvelu",
        "primary_colour": "#00594F",
        "accent_colour": "#003D36",
        "support": SUPPORT,
    }
    yield from start_broker(tmp_path, broker_keys, branding=branding)


@pytest.mark.parametrize(
    ("language", "title", "hours"),
    [
        ("fi", "Tarvitsetko apua?", "Palveluaika: ma-pe 8-16"),
        ("sv", "Behöver du hjälp?", "Öppettider: mån-fre 8-16"),
        ("en", "Need help?", "Opening hours: Mon-Fri 8am-4pm"),
    ],
)
async def test_an_error_page_shows_the_support_contact_in_each_language(
    branded: RunningBroker, language: str, title: str, hours: str
) -> None:
    async with httpx.AsyncClient(headers={"Accept-Language": language}) as browser:
        page = await browser.get(branded.url + "/login/role")  # no login under way: an error
    assert page.status_code == 400
    assert f'<html lang="{language}">' in page.text
    assert title in page.text and hours in page.text
    assert 'href="tel:+35891234567"' in page.text
    assert 'href="mailto:tuki@tunnistus.example"' in page.text
    assert 'href="https://tuki.tunnistus.example/ohjeet"' in page.text
    assert page.text.count(title) == 1  # in the page, not again in the footer
    assert '<img class="site-logo" src="/branding/logo" alt="Tunnistuspalvelu">' in page.text


async def test_the_colours_are_custom_properties_and_the_logo_is_served(
    branded: RunningBroker,
) -> None:
    async with httpx.AsyncClient() as browser:
        page = await browser.get(branded.url + "/login/role")
        css = await browser.get(branded.url + "/branding.css")
        logo = await browser.get(branded.url + "/branding/logo")
    assert '<link rel="stylesheet" href="/branding.css">' in page.text
    assert css.headers["content-type"].startswith("text/css")
    assert "--primary: #00594f;" in css.text and "--primary-dark: #003d36;" in css.text
    assert logo.headers["content-type"] == "image/png" and logo.content == PNG


def test_a_colour_too_light_against_white_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"contrast 2\.\d\d:1 against white"):
        make_settings(tmp_path, 8000, branding={"primary_colour": "#ff9900"})


def test_a_colour_that_is_no_hex_colour_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="expected a hex colour"):
        make_settings(tmp_path, 8000, branding={"accent_colour": "red"})


async def test_without_branding_there_is_no_footer_logo_or_stylesheet(
    broker: RunningBroker,
) -> None:
    async with httpx.AsyncClient() as browser:
        page = await browser.get(broker.url + "/login/role")
    assert "site-footer" not in page.text and "site-logo" not in page.text
    assert "/branding.css" not in page.text
