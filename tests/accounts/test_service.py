"""Accounts found, linked and registered for upstream identities, on a real SQLite store: by
link, by identity code (then linked), never by e-mail or name; registration validates every
field and happens once, also when the same form is submitted twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from broker.accounts.catalogue import Catalogue, load_catalogue
from broker.accounts.service import Accounts, IdentityKeys, Registration
from broker.accounts.service import identity_keys as keys_at
from broker.claims.identity import Identity
from broker.clock import FrozenClock
from broker.errors import FormInputError, InvalidContactError, LinkAssuranceError
from broker.store.sqlite import SQLiteStore
from broker.upstream.registry import HIGH_ASSURANCE

KEY = b"k" * 32
TESSA = "010280-952L"
LOA2, LOA3 = "http://ftn.ficora.fi/2017/loa2", HIGH_ASSURANCE[0]
SUOMIFI = Identity(
    idp_id="suomifi",
    issuer="https://tunnistus.suomi.fi/idp",
    subject=TESSA,
    route="personal",
    email="tessa@example.fi",
    hetu=TESSA,
    acr=LOA3,
)
HUS = Identity(
    idp_id="hus", issuer="https://hus.example/idp", subject="emp-1", route="organisation"
)
TYPED = Registration(phone="040 123 4567", email="tessa@example.fi", partners=["school:tamk"])


def identity_keys(identity: Identity, key: bytes) -> IdentityKeys:
    """The keys of a login of an IdP trusted for the identity code (else `hetu` is None)."""
    return keys_at(identity, key, link_acr=HIGH_ASSURANCE)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Accounts, Catalogue, SQLiteStore]]:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    clock = FrozenClock(1_800_000_000)
    catalogue = await load_catalogue(store.accounts, clock.now())
    yield Accounts(store.accounts, clock), catalogue, store
    await store.close()


def test_the_keys_hide_the_subject_and_code_and_differ_by_purpose() -> None:
    keys = identity_keys(SUOMIFI, KEY)
    assert keys.person_hash and TESSA not in keys.link_hash + keys.person_hash
    assert keys.link_hash != keys.person_hash
    assert identity_keys(SUOMIFI, b"x" * 32).link_hash != keys.link_hash  # keyed
    assert identity_keys(replace(SUOMIFI, hetu="010280-952X"), KEY).person_hash is None  # invalid


async def test_first_login_registers_then_the_next_login_finds_the_account(
    world: tuple[Accounts, Catalogue, SQLiteStore],
) -> None:
    accounts, catalogue, _ = world
    keys = identity_keys(SUOMIFI, KEY)
    assert await accounts.find(keys) is None
    account = await accounts.register(keys, TYPED, catalogue)
    assert (account.phone, account.email, account.partners) == (
        "+358401234567",
        "tessa@example.fi",
        ("school:tamk",),
    )
    assert await accounts.find(keys) == account


async def test_another_route_with_the_same_identity_code_joins_the_account(
    world: tuple[Accounts, Catalogue, SQLiteStore],
) -> None:
    accounts, catalogue, store = world
    account = await accounts.register(identity_keys(SUOMIFI, KEY), TYPED, catalogue)
    hus_with_code = identity_keys(replace(HUS, hetu=TESSA, acr=LOA3), KEY)
    assert await accounts.find(hus_with_code) == account
    assert [link.idp_id for link in await store.accounts.links(account.account_id)] == [
        "suomifi",
        "hus",
    ]
    trail = await store.audit.trail(account.account_id)
    assert [e.action for e in trail] == ["registered", "linked"]
    assert TESSA not in str(trail)


async def test_a_code_below_the_linking_level_neither_finds_nor_is_recorded(
    world: tuple[Accounts, Catalogue, SQLiteStore],
) -> None:
    accounts, catalogue, store = world
    weak = identity_keys(replace(SUOMIFI, acr=LOA2), KEY)
    assert weak.person_hash is not None and not weak.person_proven
    account = await accounts.register(weak, TYPED, catalogue)
    assert await store.accounts.account_by_person(weak.person_hash) is None  # not recorded
    assert await accounts.find(weak) == account  # its own link still finds it

    hus_weak = identity_keys(replace(HUS, hetu=TESSA, acr=LOA2), KEY)
    assert await accounts.find(hus_weak) is None  # nothing to find by the code
    other = replace(HUS, subject="emp-2", hetu=TESSA, acr=LOA3)
    proven = await accounts.register(identity_keys(other, KEY), TYPED, catalogue)
    with pytest.raises(LinkAssuranceError):  # the code has an account now: no second one
        await accounts.find(hus_weak)
    assert [link.idp_id for link in await store.accounts.links(proven.account_id)] == ["hus"]


async def test_an_organisation_login_without_a_code_is_not_joined_by_email_or_name(
    world: tuple[Accounts, Catalogue, SQLiteStore],
) -> None:
    accounts, catalogue, _ = world
    await accounts.register(identity_keys(SUOMIFI, KEY), TYPED, catalogue)
    same_email = replace(HUS, email=SUOMIFI.email, name="Tessa Testilä")
    assert await accounts.find(identity_keys(same_email, KEY)) is None


@pytest.mark.parametrize(
    ("typed", "field", "reason"),
    [
        (replace(TYPED, phone="12"), "phone", "invalid"),
        (replace(TYPED, phone=""), "phone", "missing"),
        (replace(TYPED, email="tessa@"), "email", "invalid"),
        (replace(TYPED, partners=[]), "partners", "missing"),
        (replace(TYPED, partners=["", ""]), "partners", "missing"),
        (replace(TYPED, partners=["school:nowhere"]), "partners", "invalid"),
        (
            replace(TYPED, partners=[f"municipality:{n:03}" for n in range(5, 999)]),
            "partners",
            "invalid",
        ),
    ],
)
async def test_each_invalid_field_is_named_and_nothing_is_saved(
    world: tuple[Accounts, Catalogue, SQLiteStore], typed: Registration, field: str, reason: str
) -> None:
    accounts, catalogue, _ = world
    keys = identity_keys(SUOMIFI, KEY)
    with pytest.raises(FormInputError) as refused:
        await accounts.register(keys, typed, catalogue)
    assert (refused.value.field, refused.value.reason) == (field, reason)
    assert isinstance(refused.value, InvalidContactError) == (field in ("phone", "email"))
    assert await accounts.find(keys) is None


async def test_the_same_form_submitted_twice_at_once_gives_one_account(
    world: tuple[Accounts, Catalogue, SQLiteStore],
) -> None:
    accounts, catalogue, store = world
    keys = identity_keys(SUOMIFI, KEY)
    results = await asyncio.gather(*(accounts.register(keys, TYPED, catalogue) for _ in range(5)))
    assert len({account.account_id for account in results}) == 1
    assert len(await store.connection.all("SELECT 1 FROM accounts")) == 1


@pytest.mark.parametrize(
    ("claims", "verifies", "expected"),
    [
        ({}, True, ("", "", None)),  # an IdP that sends no e-mail: a valid account still
        ({"email": "not an address", "phone_number": "12"}, True, ("", "", None)),
        ({"email": "Maija@HUS.fi", "phone_number": "050 000 0101"}, False, None),
        ({"email": "maija@hus.fi"}, True, ("maija@hus.fi", "", 1_800_000_000)),
    ],
)
async def test_an_automatic_account_takes_only_what_the_idp_said_validly(
    world: tuple[Accounts, Catalogue, SQLiteStore],
    claims: dict[str, str],
    verifies: bool,
    expected: tuple[str, str, float | None] | None,
) -> None:
    """`registration: automatic`: the organisation as partner, the IdP's phone and e-mail where
    valid (else empty, for the account page), verified only where the IdP is configured so;
    its account claims then carry no empty e-mail or phone."""
    from broker.accounts.email_codes import EmailCodes
    from broker.journey.registration import AccountStage, PendingLogin, account_claims

    accounts, catalogue, _ = world
    stage = AccountStage(accounts, cast(EmailCodes, None), catalogue)
    pending = PendingLogin(identity_keys(HUS, KEY), claims, None, (), None)
    account = await stage.register_automatically(pending, email_verified=verifies, language="sv")
    assert account is not None and account.partners == ("org:hus",)
    found = (account.email, account.phone, account.email_verified_at)
    if expected is None:
        assert found == ("Maija@hus.fi", "+358500000101", None)
    else:
        assert found == expected
    released = account_claims(account, catalogue)
    if not account.email:
        assert released["email"] is None and released["email_verified"] is None
    assert await accounts.get(account.account_id) == account

    no_org = PendingLogin(
        replace(identity_keys(HUS, KEY), idp_id="nowhere"), claims, None, (), None
    )
    assert await stage.register_automatically(no_org, email_verified=True, language="fi") is None
