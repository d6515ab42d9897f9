"""The test persons, read once from `mock_idps/suomifi_persons.yaml` into frozen objects.

A bad file stops start-up with a `PersonsError` naming the file, the key and what was expected. A
code outside the test individual numbers 900-999 is refused, so a typo cannot become a real
person's identity code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mock_idps.oidc_idp.hetu import is_test_hetu

DEFAULT_PERSONS_FILE = Path(__file__).resolve().parent.parent / "suomifi_persons.yaml"


class PersonsError(ValueError):
    """The persons file is missing, not YAML, or has a key with the wrong shape or value."""


@dataclass(frozen=True)
class Municipality:
    """Home municipality (kotikunta): VTJ code and names in Finnish and Swedish."""

    code: str
    fi: str
    sv: str


@dataclass(frozen=True)
class Person:
    hetu: str  # henkilötunnus, the personal identity code (a test code)
    given_name: str
    family_name: str
    email: str | None = None
    municipality: Municipality | None = None
    turvakielto: bool = False  # address protection
    note: Mapping[str, str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def common_name(self) -> str:
        """cn as the population register writes it: family name first."""
        return f"{self.family_name} {self.given_name}"


def load_persons(path: Path | None = None) -> dict[str, Person]:
    """The persons by identity code (default file: `mock_idps/suomifi_persons.yaml`)."""
    path = path or DEFAULT_PERSONS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PersonsError(f"{path}: cannot read the persons file: {exc}") from exc
    entries = data.get("persons") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PersonsError(f"{path}: persons: expected a list of at least one person")
    persons = [_person(path, f"persons[{i}]", e) for i, e in enumerate(entries)]
    by_hetu = {p.hetu: p for p in persons}
    if len(by_hetu) != len(persons):
        raise PersonsError(f"{path}: persons.*.hetu: expected unique identity codes")
    return by_hetu


def _person(path: Path, key: str, value: Any) -> Person:
    def fail(name: str, expected: str) -> PersonsError:
        return PersonsError(f"{path}: {key}.{name}: expected {expected}")

    if not isinstance(value, dict):
        raise PersonsError(f"{path}: {key}: expected a mapping")
    for name in ("hetu", "given_name", "family_name"):
        if not isinstance(value.get(name), str) or not value[name].strip():
            raise fail(name, "a non-empty string")
    if not is_test_hetu(value["hetu"]):
        raise fail("hetu", "a valid test henkilötunnus (individual number 900-999)")
    email = value.get("email")
    if email is not None and not (isinstance(email, str) and "@" in email):
        raise fail("email", "an e-mail address")
    turvakielto = value.get("turvakielto", False)
    if not isinstance(turvakielto, bool):
        raise fail("turvakielto", "true or false")
    note = value.get("note", {})
    if not isinstance(note, dict) or not all(isinstance(v, str) for v in note.values()):
        raise fail("note", "texts by language (fi, sv, en)")
    return Person(
        hetu=value["hetu"],
        given_name=value["given_name"],
        family_name=value["family_name"],
        email=email,
        municipality=_municipality(value.get("municipality"), fail),
        turvakielto=turvakielto,
        note=dict(note),
    )


def _municipality(value: Any, fail: Any) -> Municipality | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value[k] for k in ("code", "fi", "sv")
    ):
        raise fail("municipality", "{code, fi, sv} as strings")
    if not (len(value["code"]) == 3 and value["code"].isdigit()):
        raise fail("municipality.code", "a three-digit municipality code, quoted")
    return Municipality(value["code"], value["fi"], value["sv"])
