"""Henkilötunnus (hetu, the Finnish personal identity code): parsing and validation.

A code is `DDMMYY` + century sign + 3-digit individual number + check character, e.g. the
Suomi.fi test person `010280-952L`. The check character is the 9-digit number `DDMMYYNNN` mod 31,
looked up in `0123456789ABCDEFHJKLMNPRSTUVWXY`. Century signs: `+` for the 1800s, `-` and
`Y X W V U` for the 1900s, `A B C D E F` for the 2000s (the letters other than `-`, `+` and `A`
since 2023). Individual numbers 002-899 belong to real persons, 900-999 to temporary and test
codes; 000 and 001 are never assigned.

A hetu is sensitive personal data: it is never logged, and nothing in this module puts one into
an exception message or a repr. `HetuError` says what is wrong, never what the code was.

    ValueError
    └── HetuError   the text is not a valid hetu (message without the code)
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

__all__ = ["Hetu", "HetuError", "is_valid_hetu", "parse_hetu", "same_person"]

_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURIES = {
    "+": 1800,
    "-": 1900,
    "Y": 1900,
    "X": 1900,
    "W": 1900,
    "V": 1900,
    "U": 1900,
    "A": 2000,
    "B": 2000,
    "C": 2000,
    "D": 2000,
    "E": 2000,
    "F": 2000,
}
_LENGTH = 11
_SHAPE = re.compile(r"([0-9]{6})(.)([0-9]{3})(.)", re.ASCII)
_FIRST_TEMPORARY = 900
_FIRST_ASSIGNED = 2


class HetuError(ValueError):
    """The text is not a valid henkilötunnus. The message says why and never contains the code."""


@dataclass(frozen=True)
class Hetu:
    """A valid henkilötunnus. Build it with `parse_hetu`; its repr and str never show the code.

    `value` is the normalised code (upper case, no surrounding whitespace). Two codes with the same
    digits but different century signs (`-` and `Y`, say) are different people: see `same_person`.
    """

    value: str = field(repr=False)
    birth_date: datetime.date
    individual_number: int

    def __post_init__(self) -> None:
        if _check(self.value) != (self.birth_date, self.individual_number):
            raise HetuError("birth date or individual number does not match the code")

    @property
    def is_temporary(self) -> bool:
        """A temporary or test code (individual number 900-999), never a real person's own."""
        return self.individual_number >= _FIRST_TEMPORARY

    def __repr__(self) -> str:
        return "Hetu(<redacted>)"

    def __str__(self) -> str:
        return "<redacted hetu>"


def parse_hetu(text: str) -> Hetu:
    """Parse and validate a henkilötunnus; lower case is accepted and normalised to upper case.

    Raises `HetuError` (a `ValueError`) whose message names the problem but not the code.
    """
    value = _normalise(text)
    birth_date, individual_number = _check(value)
    return Hetu(value=value, birth_date=birth_date, individual_number=individual_number)


def is_valid_hetu(text: str) -> bool:
    """True if `text` parses as a henkilötunnus (see `parse_hetu`)."""
    try:
        parse_hetu(text)
    except HetuError:
        return False
    return True


def same_person(a: Hetu, b: Hetu) -> bool:
    """True if both codes identify the same person.

    Since 2023 a code is unique only together with its century sign: `010594-9032` and
    `010594Y9032` share date, individual number and check character (the sign is not part of the
    checksum) yet belong to two different people. So the whole normalised code is compared, never
    the digits alone and never the birth date with the individual number.
    """
    return a.value == b.value


def _normalise(text: str) -> str:
    stripped = text.strip()
    if len(stripped) != _LENGTH:
        raise HetuError(f"must be {_LENGTH} characters long")
    if any(character.isspace() for character in stripped):
        raise HetuError("contains whitespace")
    # ASCII first: str.upper() maps some non-ASCII letters onto ASCII ones (long s onto "S").
    if not stripped.isascii():
        raise HetuError("contains characters that are not allowed")
    return stripped.upper()


def _check(value: str) -> tuple[datetime.date, int]:
    """Validate a normalised code; return its birth date and individual number."""
    shape = _SHAPE.fullmatch(value)
    if shape is None:
        raise HetuError("must be six digits, a century sign, three digits and a check character")
    date_part, sign, number_part, check = shape.groups()
    birth_date = _birth_date(date_part, sign)
    individual_number = int(number_part)
    if individual_number < _FIRST_ASSIGNED:
        raise HetuError("individual number is never assigned (000 and 001 are not in use)")
    if check != _CHECK_CHARACTERS[int(date_part + number_part) % len(_CHECK_CHARACTERS)]:
        raise HetuError("check character does not match")
    return birth_date, individual_number


def _birth_date(date_part: str, sign: str) -> datetime.date:
    century = _CENTURIES.get(sign)
    if century is None:
        raise HetuError("unknown century sign")
    day, month, year = int(date_part[:2]), int(date_part[2:4]), int(date_part[4:])
    try:
        return datetime.date(century + year, month, day)
    except ValueError:
        raise HetuError("date of birth is not a calendar date") from None
