"""Henkilötunnus (Finnish personal identity code) checks for the test users.

The mock refuses to start with a code that is malformed or outside the individual numbers 900-999
(reserved for tests), so that a typo in `test_users.yaml` cannot turn into a real person's code.
"""

from __future__ import annotations

import re

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_FORMAT = re.compile(r"(\d{6})([-+YXWVUABCDEF])(\d{3})([0-9A-Y])")


def check_character(birth_date: str, individual_number: str) -> str:
    """The remainder of the nine digits DDMMYYNNN mod 31, as a character."""
    return CHECK_CHARACTERS[int(birth_date + individual_number) % 31]


def is_test_hetu(code: str) -> bool:
    """True for a well-formed code with a correct check character and individual number 900-999."""
    match = _FORMAT.fullmatch(code)
    if match is None:
        return False
    birth_date, _century, individual, check = match.groups()
    return int(individual) >= 900 and check_character(birth_date, individual) == check
