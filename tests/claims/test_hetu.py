"""Henkilötunnus parsing: test persons, every way a code can be wrong, and that no code leaks.

Only temporary/test codes (individual number 900-999) appear here, except where the individual
number itself is under test; those few are built from made-up dates. Check characters were
computed once from DDMMYYNNN mod 31 and are written out, so the tests do not reuse the module.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from broker.claims.hetu import Hetu, HetuError, is_valid_hetu, parse_hetu, same_person

SUOMI_FI_TEST_PERSONS = [
    "010280-952L",
    "010469-999W",
    "010675-9981",
    "261298-998X",
    "040265-9985",
    "260991-999R",
    "020365-999P",
]
NEW_CENTURY_SIGNS = ["010594Y9032", "020594X903P", "010516B903X"]


@pytest.mark.parametrize("code", SUOMI_FI_TEST_PERSONS + NEW_CENTURY_SIGNS)
def test_test_persons_are_valid(code: str) -> None:
    hetu = parse_hetu(code)

    assert hetu.value == code
    assert hetu.is_temporary
    assert is_valid_hetu(code)


@pytest.mark.parametrize(
    ("code", "birth_date", "individual_number"),
    [
        ("010280-952L", datetime.date(1980, 2, 1), 952),
        ("010594Y9032", datetime.date(1994, 5, 1), 903),
        ("020594X903P", datetime.date(1994, 5, 2), 903),
        ("010516B903X", datetime.date(2016, 5, 1), 903),
        ("311299+998D", datetime.date(1899, 12, 31), 998),
        ("010100+998M", datetime.date(1800, 1, 1), 998),
        ("290200A998H", datetime.date(2000, 2, 29), 998),
        ("290224A998P", datetime.date(2024, 2, 29), 998),
        ("290296-9989", datetime.date(1996, 2, 29), 998),
    ],
)
def test_birth_date_and_individual_number(
    code: str, birth_date: datetime.date, individual_number: int
) -> None:
    hetu = parse_hetu(code)

    assert hetu.birth_date == birth_date
    assert hetu.individual_number == individual_number


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("010280-952K", "check character does not match"),
        ("010280-952M", "check character does not match"),
        ("010594Y9033", "check character does not match"),
        ("010280-952G", "check character does not match"),  # G is not in the alphabet
        ("310298-9983", "not a calendar date"),  # February has no 31st
        ("290223A998E", "not a calendar date"),  # 2023 is not a leap year
        ("290200-998H", "not a calendar date"),  # 1900 is not a leap year
        ("290200+998H", "not a calendar date"),  # nor is 1800
        ("310495-998X", "not a calendar date"),
        ("000195-998H", "not a calendar date"),
        ("011395-998U", "not a calendar date"),
        ("010280Z952L", "unknown century sign"),
        ("010280G952L", "unknown century sign"),
        ("010280*952L", "unknown century sign"),
        ("010195-000Y", "individual number is never assigned"),
        ("010195-0010", "individual number is never assigned"),
        ("010280-952", "must be 11 characters long"),
        ("010280-952LL", "must be 11 characters long"),
        ("", "must be 11 characters long"),
        ("010280 952L", "contains whitespace"),
        ("0102 0-952L", "contains whitespace"),
        ("010280-9 2L", "contains whitespace"),
        ("010280\u00a0952L", "contains whitespace"),
        ("01O280-952L", "must be six digits"),
        ("010280-95ZL", "must be six digits"),
        ("010280-952\u0141", "not allowed"),
        ("\u0661\u0660\u0662\u0668\u0660\u0661-952L", "not allowed"),  # Arabic-Indic digits
    ],
)
def test_invalid_codes_are_refused(code: str, message: str) -> None:
    with pytest.raises(HetuError, match=message):
        parse_hetu(code)
    assert not is_valid_hetu(code)


def test_hetu_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="check character"):
        parse_hetu("010280-952K")


@pytest.mark.parametrize("code", ["010195-0021", "010195-899Y", "010195-9000"])
def test_individual_numbers_002_to_999_are_assigned(code: str) -> None:
    assert is_valid_hetu(code)


@pytest.mark.parametrize(
    ("code", "temporary"),
    [("010195-0021", False), ("010195-899Y", False), ("010195-9000", True), ("010280-952L", True)],
)
def test_is_temporary(code: str, temporary: bool) -> None:
    assert parse_hetu(code).is_temporary is temporary


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("010594y9032", "010594Y9032"),
        ("020594x903p", "020594X903P"),
        ("010280-952l", "010280-952L"),
        ("  010280-952L\n", "010280-952L"),
        ("\t010516b903x ", "010516B903X"),
    ],
)
def test_lower_case_and_surrounding_whitespace_are_normalised(text: str, normalised: str) -> None:
    assert parse_hetu(text).value == normalised


def test_non_ascii_letters_that_upper_case_to_ascii_are_refused() -> None:
    # "\u017f" (long s) upper-cases to "S", and S is a check character: 190195-998S is a valid code.
    assert is_valid_hetu("190195-998S")
    assert not is_valid_hetu("190195-998\u017f")


@pytest.mark.parametrize("code", [*SUOMI_FI_TEST_PERSONS, *NEW_CENTURY_SIGNS, "311299+998D"])
def test_repr_and_str_do_not_reveal_the_code(code: str) -> None:
    hetu = parse_hetu(code)

    for shown in (repr(hetu), str(hetu), f"{hetu}", f"{hetu!r}", repr([hetu]), repr({"h": hetu})):
        assert code[:6] not in shown
        assert code[7:10] not in shown
    assert repr(hetu) == "Hetu(<redacted>)"


@pytest.mark.parametrize(
    "code",
    [
        "010280-952K",
        "310298-9983",
        "290223A998E",
        "010280Z952L",
        "010195-0010",
        "010280-952LL",
        "010280 952L",
        "010280-952\u0141",
    ],
)
def test_error_messages_do_not_reveal_the_code(code: str) -> None:
    with pytest.raises(HetuError) as caught:
        parse_hetu(code)

    for shown in (str(caught.value), repr(caught.value), *map(str, caught.value.args)):
        assert code[:6] not in shown
    # Nothing chained either: a chained exception (e.g. from datetime.date) could carry the digits.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_direct_construction_is_validated() -> None:
    hetu = parse_hetu("010280-952L")

    with pytest.raises(HetuError, match="does not match the code"):
        dataclasses.replace(hetu, individual_number=953)
    with pytest.raises(HetuError, match="does not match the code"):
        Hetu(value="010280-952L", birth_date=datetime.date(1880, 2, 1), individual_number=952)
    with pytest.raises(HetuError, match="check character") as caught:
        Hetu(value="010280-952K", birth_date=datetime.date(1980, 2, 1), individual_number=952)
    assert "010280" not in str(caught.value)


def test_same_person_compares_the_whole_code() -> None:
    hetu = parse_hetu("010280-952L")

    assert same_person(hetu, parse_hetu(" 010280-952l "))
    assert not same_person(hetu, parse_hetu("010469-999W"))


def test_same_digits_with_different_century_signs_are_different_people() -> None:
    # The century sign is not part of the checksum: both codes are valid, with the same birth date
    # and individual number, yet since 2023 they belong to two different people.
    dash = parse_hetu("010594-9032")
    y_sign = parse_hetu("010594Y9032")

    assert dash.birth_date == y_sign.birth_date
    assert dash.individual_number == y_sign.individual_number
    assert not same_person(dash, y_sign)
    assert dash != y_sign


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("010280 952L", "contains whitespace"),
        ("010280-952\u0141", "contains characters that are not allowed"),
        ("01O280-952L", "must be six digits, a century sign, three digits and a check character"),
        ("010280Q952L", "unknown century sign"),
        ("310280-952L", "date of birth is not a calendar date"),
        ("010280-001L", "individual number is never assigned (000 and 001 are not in use)"),
        ("010280-952K", "check character does not match"),
    ],
)
def test_each_refusal_says_exactly_what_is_wrong(code: str, message: str) -> None:
    """The messages operators and support read (never with the code in them)."""
    with pytest.raises(HetuError) as refused:
        parse_hetu(code)
    assert str(refused.value) == message


def test_a_hetu_whose_parts_do_not_match_its_code_is_refused_and_never_shown() -> None:
    hetu = parse_hetu("010280-952L")
    assert str(hetu) == "<redacted hetu>"
    with pytest.raises(HetuError) as refused:
        Hetu(hetu.value, datetime.date(1980, 2, 2), hetu.individual_number)
    assert str(refused.value) == "birth date or individual number does not match the code"
