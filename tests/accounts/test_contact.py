"""Phone numbers and e-mail addresses as people type them, normalised for the account."""

from __future__ import annotations

import pytest

from broker.accounts.contact import normalise_email, normalise_phone
from broker.errors import InvalidContactError


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("040 123 4567", "+358401234567"),
        ("0401234567", "+358401234567"),
        ("+358 40 123 4567", "+358401234567"),
        ("00358401234567", "+358401234567"),
        ("+358-50-765-4321", "+358507654321"),
        ("(09) 310 1691", "+35893101691"),  # a Helsinki fixed line
        ("+46 70 123 45 67", "+46701234567"),  # Swedish mobile
        ("+44 7911 123456", "+447911123456"),  # UK mobile
        ("  045 7890 1234 ", "+3584578901234"),
    ],
)
def test_finnish_and_international_numbers_are_stored_as_e164(typed: str, stored: str) -> None:
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("12", "invalid"),
        ("040 123", "invalid"),
        ("not a number", "invalid"),
        ("+999 123 456 789", "invalid"),
        ("0700 123 456", "not_personal"),  # Finnish premium-rate service number
        ("1" * 300, "invalid"),
    ],
)
def test_unusable_numbers_are_refused_without_echoing_them(typed: str, reason: str) -> None:
    with pytest.raises(InvalidContactError) as refused:
        normalise_phone(typed)
    assert (refused.value.field, refused.value.reason) == ("phone", reason)
    assert refused.value.message_id == f"registration.phone.{reason}"
    if typed.strip():
        assert typed.strip() not in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("maija.meikalainen@hus.fi", "maija.meikalainen@hus.fi"),
        ("  Maija.Meikalainen@HUS.FI ", "Maija.Meikalainen@hus.fi"),  # the local part as typed
        ("tessa@esimerkki.fi", "tessa@esimerkki.fi"),
        ("pekka@pääkaupunkiseutu.fi", "pekka@pääkaupunkiseutu.fi"),
    ],
)
def test_email_addresses_are_normalised(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "missing"),
        ("maija", "invalid"),
        ("maija@", "invalid"),
        ("@hus.fi", "invalid"),
        ("maija meikäläinen@hus.fi", "invalid"),
        ("maija@hus", "invalid"),
        ("maija@@hus.fi", "invalid"),
        ("a" * 250 + "@hus.fi", "invalid"),
    ],
)
def test_unusable_email_addresses_are_refused(typed: str, reason: str) -> None:
    with pytest.raises(InvalidContactError) as refused:
        normalise_email(typed)
    assert (refused.value.field, refused.value.reason) == ("email", reason)


def test_the_region_reads_numbers_without_a_country_code() -> None:
    assert normalise_phone("070 123 45 67", "SE") == "+46701234567"
    with pytest.raises(InvalidContactError) as refused:  # Finnish by default: premium rate
        normalise_phone("070 123 45 67")
    assert refused.value.reason == "not_personal"


def test_the_international_prefix_00_is_read_as_plus() -> None:
    assert normalise_phone("0046 70 123 45 67") == "+46701234567"
    assert normalise_phone("00 358 40 123 4567") == "+358401234567"
    # whatever the region's own international prefix (011 in the US), 00 is read as +
    assert normalise_phone("0046 70 123 45 67", "US") == "+46701234567"


def test_the_length_limit_holds_at_its_edge() -> None:
    domain = ".".join(["a" * 63, "b" * 63, "c" * 58, "fi"])  # 189 characters
    longest = "m" * 64 + "@" + domain
    assert len(longest) == 254
    assert normalise_email(f"  {longest}  ") == longest
    with pytest.raises(InvalidContactError) as refused:
        normalise_email("m" + longest)
    assert (refused.value.field, refused.value.reason) == ("email", "invalid")
