"""The `branding:` section of the settings: one deployment's logo, colours and support contact.

Colours become CSS custom properties in `/branding.css` (a stylesheet of the broker's own, so the
Content-Security-Policy keeps `style-src 'self'`). Text in the primary colour and white text on
it must stay readable: a colour with a contrast under WCAG 2.x AA (4.5:1 for normal text, SC
1.4.3) against white is refused at start-up, with the ratio in the message.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

AA_NORMAL_TEXT = 4.5
"""WCAG 2.x SC 1.4.3: the least contrast ratio of normal-size text."""
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpeningHours(_Frozen):
    fi: str = Field(min_length=1, max_length=200)
    sv: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class SupportContact(_Frozen):
    """Who helps a person whose login failed; shown on error pages and in the footer."""

    phone: str | None = Field(None, pattern=r"^\+?[0-9 ()-]{5,30}$")
    email: str | None = Field(None, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
    url: str | None = Field(None, pattern=r"^https://[^\s<>\"]+$", max_length=500)
    hours: OpeningHours | None = None

    @property
    def any(self) -> bool:
        return bool(self.phone or self.email or self.url or self.hours)


class BrandingSettings(_Frozen):
    logo: Path | None = None
    """A PNG, SVG or JPEG file the broker serves at /branding/logo; none: no logo."""
    logo_alt: str = Field("", max_length=200)
    """The logo's text alternative (empty: decorative, the service name stands beside it)."""
    primary_colour: str | None = None
    """Links, buttons, focus: at least 4.5:1 against white (WCAG AA), else start-up stops."""
    accent_colour: str | None = None
    """Hovered and pressed buttons: the same rule."""
    support: SupportContact = SupportContact()

    @field_validator("primary_colour", "accent_colour")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _HEX.match(value):
            raise ValueError(f"{value!r}: expected a hex colour like #003580")
        ratio = contrast_with_white(value)
        if ratio < AA_NORMAL_TEXT:
            raise ValueError(
                f"{value}: contrast {ratio:.2f}:1 against white is under WCAG AA "
                f"({AA_NORMAL_TEXT}:1); choose a darker colour"
            )
        return value.lower()

    @field_validator("logo")
    @classmethod
    def _logo_type(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if value.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"{value}: expected one of {sorted(LOGO_TYPES)}")
        if not value.is_file():
            raise ValueError(f"{value}: no such file")
        return value

    def css(self) -> str:
        """The custom properties that `style.css` uses, for the colours configured."""
        rules = []
        if self.primary_colour:
            rules.append(f"--primary: {self.primary_colour};")
        if self.accent_colour:
            rules.append(f"--primary-dark: {self.accent_colour};")
        return ":root {\n  " + "\n  ".join(rules) + "\n}\n" if rules else ""


def contrast_with_white(colour: str) -> float:
    """WCAG 2.x contrast ratio of `#rrggbb` against white, (L1 + 0.05) / (L2 + 0.05)."""
    return 1.05 / (relative_luminance(colour) + 0.05)


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of `#rrggbb`."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
