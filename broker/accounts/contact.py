"""A professional account's contact details as typed on the registration page, normalised for
storage: the phone number as E.164, the e-mail address in its canonical form.

A refusal is an InvalidContactError whose `field` and `reason` name a message in the user
interface's catalogues (`registration.<field>.<reason>`), so the page can say what is wrong in
the person's language; the value itself is never in the message (it is personal data).
"""

from __future__ import annotations

from typing import Final, Literal

import email_validator
import phonenumbers

from broker.errors import InvalidContactError

__all__ = ["DEFAULT_REGION", "normalise_email", "normalise_phone"]

DEFAULT_REGION: Final = "FI"
"""A number without a country code is read as Finnish: 040 123 4567 is +358401234567."""
MAX_INPUT_CHARS: Final = 254
_PHONE_KINDS: Final = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 (`+358401234567`) from what a person types: `040 123 4567`, `+358 40 1234567`,
    `00358401234567`, `(09) 123 4567`. Only numbers that can be valid mobile or fixed lines in
    their country (no premium-rate or short service numbers), since the account's owner must be
    reachable at it."""
    cleaned = _cleaned(text, "phone")
    if cleaned.startswith("00"):  # the international prefix in Finland and most of Europe
        cleaned = "+" + cleaned[2:]
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContactError("phone", "invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidContactError("phone", "invalid")
    if phonenumbers.number_type(number) not in _PHONE_KINDS:
        raise InvalidContactError("phone", "not_personal")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_email(text: str) -> str:
    """The address with its domain lower-cased and in Unicode (IDNA); the local part as typed,
    since only the receiving server may interpret it. No DNS lookup: the one-time code sent to
    the address proves that it works and is the person's."""
    cleaned = _cleaned(text, "email")
    try:
        valid = email_validator.validate_email(cleaned, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidContactError("email", "invalid") from exc
    return str(valid.normalized)


def _cleaned(text: str, field: Literal["phone", "email"]) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidContactError(field, "missing")
    if len(cleaned) > MAX_INPUT_CHARS:
        raise InvalidContactError(field, "invalid")
    return cleaned
