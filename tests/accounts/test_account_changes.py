"""What the account service writes, exactly, on a real SQLite store: the stored hashes as known
answers (a change of their format would orphan every account), the audit trail of each change
(registration, automatic registration, link, edit, e-mail change, deletion), the link notice, and
the limits of the partner list. The flow tests show the same through HTTP; these show it in
milliseconds, so a mutation run finds a broken rule quickly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from broker.accounts.catalogue import Catalogue, load_catalogue
from broker.accounts.link_notice import LinkNotices
from broker.accounts.service import (
    MAX_PARTNERS,
    Accounts,
    IdentityKeys,
    Registration,
    checked_partners,
    identity_keys,
    new_account_id,
    person_hash,
)
from broker.claims.identity import Identity
from broker.clock import FrozenClock
from broker.errors import FormInputError, LinkAssuranceError
from broker.store.accounts import AccountRecord, AuditEntry, PersonMismatchError
from broker.store.sqlite import SQLiteStore
from broker.upstream.registry import HIGH_ASSURANCE

KEY = b"k" * 32
TESSA = "010280-952L"
LOA2, LOA3 = "http://ftn.ficora.fi/2017/loa2", HIGH_ASSURANCE[0]
T0 = 1_800_000_000.0
SUOMIFI = Identity(
    idp_id="suomifi",
    issuer="https://tunnistus.suomi.fi/idp",
    subject="sub-1",
    route="personal",
    hetu=TESSA,
    acr=LOA3,
)
HUS = Identity(
    idp_id="hus", issuer="https://hus.example/idp", subject="emp-1", route="organisation"
)
TYPED = Registration(phone="040 123 4567", email="tessa@example.fi", partners=["school:tamk"])


def keyed(*parts: str) -> str:
    """The documented format, computed here independently: HMAC-SHA256 over the NUL-joined
    purpose and parts, base64url without padding."""
    digest = hmac.new(KEY, "\x00".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Sender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []

    async def send(self, to: str, subject: str, body: str, *, language: str) -> None:
        self.sent.append((to, subject, body, language))


@dataclass
class World:
    accounts: Accounts
    catalogue: Catalogue
    store: SQLiteStore
    clock: FrozenClock
    sender: Sender

    async def trail(self, account_id: str) -> list[AuditEntry]:
        return await self.store.audit.trail(account_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    clock = FrozenClock(T0)
    catalogue = await load_catalogue(store.accounts, clock.now())
    sender = Sender()
    notices = LinkNotices(sender, lambda idp, lang, when: (f"{lang}:{idp}", when))
    yield World(Accounts(store.accounts, clock, notices), catalogue, store, clock, sender)
    await store.close()


def keys_of(identity: Identity, link_acr: tuple[str, ...] = HIGH_ASSURANCE) -> IdentityKeys:
    return identity_keys(identity, KEY, link_acr=link_acr)


def test_the_hashes_are_known_answers() -> None:
    keys = keys_of(SUOMIFI)
    assert keys.link_hash == keyed("account-link", SUOMIFI.issuer, "sub-1")
    assert keys.person_hash == keyed("person", TESSA) == person_hash(TESSA, KEY)
    assert len(keys.link_hash) == 43 and "=" not in keys.link_hash
    assert (keys.idp_id, keys.route, keys.person_proven) == ("suomifi", "personal", True)
    assert keys.proven_person == keys.person_hash


def test_a_code_below_the_level_is_kept_but_not_proven() -> None:
    weak = keys_of(replace(SUOMIFI, acr=LOA2))
    assert weak.person_hash == keyed("person", TESSA)
    assert (weak.person_proven, weak.proven_person) == (False, None)
    assert keys_of(SUOMIFI, link_acr=(LOA2,)).person_proven is False
    none = keys_of(HUS)
    assert (none.person_hash, none.person_proven, none.proven_person) == (None, False, None)


def test_an_invalid_identity_code_is_logged_by_route_not_by_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="broker.accounts.service"):
        keys = keys_of(replace(SUOMIFI, hetu="010280-952X"))
    assert (keys.person_hash, keys.person_proven) == (None, False)
    (record,) = caplog.records
    assert record.getMessage() == "idp suomifi: the identity code is not valid; not used"


def test_an_account_id_is_160_random_bits_in_lower_case_base32() -> None:
    ids = {new_account_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[a-z2-7]{32}", account_id) for account_id in ids)


async def test_registration_is_stored_and_audited_exactly(world: World) -> None:
    keys = keys_of(SUOMIFI)
    account = await world.accounts.register(
        keys, TYPED, world.catalogue, email_verified=True, language="sv"
    )
    assert re.fullmatch(r"[a-z2-7]{32}", account.account_id)
    assert account == AccountRecord(
        account.account_id,
        "+358401234567",
        "tessa@example.fi",
        ("school:tamk",),
        T0,
        T0,
        email_verified_at=T0,
        language="sv",
    )
    assert await world.accounts.get(account.account_id) == account
    assert await world.trail(account.account_id) == [
        AuditEntry(
            account.account_id,
            T0,
            "registered",
            actor="self",
            route="personal",
            changes={"idp": "suomifi", "partners": ["school:tamk"]},
        )
    ]
    (link,) = await world.accounts.links(account.account_id)
    assert (link.link_hash, link.idp_id, link.route, link.linked_at) == (
        keys.link_hash,
        "suomifi",
        "personal",
        T0,
    )
    assert await world.store.accounts.account_by_person(keys_of(SUOMIFI).person_hash or "") == (
        account
    )


async def test_an_unverified_registration_defaults_to_finnish(world: World) -> None:
    account = await world.accounts.register(keys_of(HUS), TYPED, world.catalogue)
    assert (account.email_verified_at, account.language) == (None, "fi")


async def test_a_login_finds_the_account_and_records_the_time(world: World) -> None:
    keys = keys_of(SUOMIFI)
    account = await world.accounts.register(keys, TYPED, world.catalogue)
    world.clock.advance(60)
    assert await world.accounts.find(keys) == account
    (link,) = await world.accounts.links(account.account_id)
    assert link.last_login_at == T0 + 60


async def test_an_automatic_registration_is_audited_as_such(world: World) -> None:
    keys = keys_of(HUS)
    account = await world.accounts.register_automatic(
        keys,
        phone="",
        email="",
        partners=["org:hus"],
        email_verified=True,
        language="en",
    )
    assert (account.email, account.email_verified_at, account.partners, account.language) == (
        "",
        None,  # no address: nothing is verified
        ("org:hus",),
        "en",
    )
    with_address = await world.accounts.register_automatic(
        keys_of(replace(HUS, subject="emp-2")),
        phone="+358401234567",
        email="maija@hus.fi",
        partners=["org:hus"],
        email_verified=True,
        language="fi",
    )
    assert with_address.email_verified_at == T0
    assert (await world.trail(account.account_id))[0].changes == {
        "idp": "hus",
        "partners": ["org:hus"],
        "automatic": True,
    }


async def test_a_link_by_identity_code_is_audited_and_announced(world: World) -> None:
    account = await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
    world.clock.advance(5)
    hus = keys_of(replace(HUS, hetu=TESSA, acr=LOA3))
    assert await world.accounts.find(hus) == account
    trail = await world.trail(account.account_id)
    assert trail[1] == AuditEntry(
        account.account_id,
        T0 + 5,
        "linked",
        actor="self",
        route="organisation",
        changes={"idp": "hus", "proof": "identity code"},
    )
    assert world.sender.sent == [("tessa@example.fi", "fi:hus", "15.1.2027 10.00", "fi")]
    links = await world.accounts.links(account.account_id)
    assert [(link.idp_id, link.linked_at, link.last_login_at) for link in links] == [
        ("suomifi", T0, None),
        ("hus", T0 + 5, T0 + 5),
    ]


async def test_a_weak_code_that_has_an_account_is_refused_by_name(world: World) -> None:
    await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
    weak = keys_of(replace(HUS, hetu=TESSA, acr=LOA2))
    with pytest.raises(LinkAssuranceError, match=r"^route hus: below the level for linking$"):
        await world.accounts.find(weak)
    assert world.sender.sent == []


async def test_a_weak_link_records_no_identity_code(world: World) -> None:
    """A link made with a code below the level (both routes in one transaction) does not let
    that code find the account later."""
    account = await world.accounts.register(keys_of(HUS), TYPED, world.catalogue)
    weak = keys_of(replace(SUOMIFI, acr=LOA2))
    await world.accounts.link(account, weak, proof="both logins")
    assert await world.store.accounts.account_by_person(weak.person_hash or "") is None
    assert (await world.trail(account.account_id))[-1].changes == {
        "idp": "suomifi",
        "proof": "both logins",
    }
    strong = keys_of(replace(SUOMIFI, subject="sub-2"))
    other = await world.accounts.register(strong, TYPED, world.catalogue)
    assert await world.store.accounts.account_by_person(strong.person_hash or "") == other


async def test_an_edit_of_the_phone_and_partners_is_audited_by_field(world: World) -> None:
    account = await world.accounts.register(
        keys_of(SUOMIFI), TYPED, world.catalogue, email_verified=True
    )
    world.clock.advance(30)
    typed = replace(TYPED, phone="050 000 0101", partners=["school:tamk", "org:hus"])
    edited = await world.accounts.edit(account, typed, world.catalogue, "personal")
    assert edited == replace(
        account,
        phone="+358500000101",
        partners=("school:tamk", "org:hus"),
        updated_at=T0 + 30,
    )
    assert edited.email_verified_at == T0  # the same address stays verified
    assert await world.accounts.get(account.account_id) == edited
    assert (await world.trail(account.account_id))[-1] == AuditEntry(
        account.account_id,
        T0 + 30,
        "edited",
        actor="self",
        route="personal",
        changes={"fields": ["phone", "partners"], "partners": ["school:tamk", "org:hus"]},
    )


async def test_an_edit_of_the_address_unverifies_it_and_names_no_partners(world: World) -> None:
    account = await world.accounts.register(
        keys_of(SUOMIFI), TYPED, world.catalogue, email_verified=True
    )
    typed = replace(TYPED, email=" Tessa@EXAMPLE.fi ")
    edited = await world.accounts.edit(account, typed, world.catalogue, None)
    assert (edited.email, edited.email_verified_at) == ("Tessa@example.fi", None)
    last = (await world.trail(account.account_id))[-1]
    assert (last.route, last.changes) == (None, {"fields": ["email"]})


async def test_an_edit_that_changes_nothing_writes_nothing(world: World) -> None:
    account = await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
    world.clock.advance(30)
    same = replace(TYPED, phone="+358 40 123 4567")  # typed otherwise, the same number
    assert await world.accounts.edit(account, same, world.catalogue, "personal") is account
    assert len(await world.trail(account.account_id)) == 1
    assert await world.accounts.get(account.account_id) == account


async def test_a_confirmed_address_change_is_verified_and_audited(world: World) -> None:
    account = await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
    world.clock.advance(40)
    changed = await world.accounts.change_email(account, "uusi@example.fi", "personal")
    assert changed == replace(
        account, email="uusi@example.fi", email_verified_at=T0 + 40, updated_at=T0 + 40
    )
    assert await world.accounts.get(account.account_id) == changed
    assert (await world.trail(account.account_id))[-1] == AuditEntry(
        account.account_id,
        T0 + 40,
        "edited",
        actor="self",
        route="personal",
        changes={"fields": ["email"], "confirmed": True},
    )


async def test_a_deleted_account_is_gone_and_its_deletion_audited(world: World) -> None:
    keys = keys_of(SUOMIFI)
    account = await world.accounts.register(keys, TYPED, world.catalogue)
    world.clock.advance(50)
    await world.accounts.delete(account, "personal")
    assert await world.accounts.get(account.account_id) is None
    assert await world.accounts.find(keys) is None
    assert (await world.trail(account.account_id))[-1] == AuditEntry(
        account.account_id, T0 + 50, "deleted", actor="self", route="personal"
    )


async def test_partners_are_checked_once_each_in_the_order_chosen(world: World) -> None:
    catalogue = world.catalogue
    assert checked_partners(["org:hus", "", "school:tamk", "org:hus"], catalogue) == (
        "org:hus",
        "school:tamk",
    )
    most = [f"municipality:{code}" for code in ("005", "009", "010", "016", "018", "019")]
    most += [f"municipality:{code}" for code in ("020", "035", "043", "046", "047", "049")]
    most += [f"municipality:{code}" for code in ("050", "051", "052", "060", "061", "062")]
    most += ["municipality:065", "municipality:069"]
    assert len(most) == MAX_PARTNERS == 20
    assert checked_partners(most, catalogue) == tuple(most)
    with pytest.raises(FormInputError) as refused:
        checked_partners([*most, "municipality:071"], catalogue)
    assert (refused.value.field, refused.value.reason) == ("partners", "invalid")
    with pytest.raises(FormInputError) as refused:
        checked_partners(["org:hus", "school:nowhere"], catalogue)
    assert (refused.value.field, refused.value.reason) == ("partners", "invalid")


async def test_an_account_without_an_address_can_be_edited_without_one(world: World) -> None:
    """An automatic account whose IdP sent no usable address keeps it empty on an edit of the
    phone (the address is asked for only when the person types one)."""
    account = await world.accounts.register_automatic(
        keys_of(HUS), phone="", email="", partners=["org:hus"], email_verified=False, language="fi"
    )
    typed = Registration(phone="040 123 4567", email="", partners=["org:hus"])
    edited = await world.accounts.edit(account, typed, world.catalogue, "organisation")
    assert (edited.phone, edited.email) == ("+358401234567", "")


async def test_each_change_is_logged_for_operators_without_personal_data(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="broker.accounts.service"):
        account = await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
        await world.accounts.link(account, keys_of(HUS), proof="both logins")
        typed = replace(TYPED, phone="050 000 0101", partners=["org:hus"])
        edited = await world.accounts.edit(account, typed, world.catalogue, "personal")
        changed = await world.accounts.change_email(edited, "uusi@example.fi", "personal")
        await world.accounts.delete(changed, "personal")
    logged = [
        (r.getMessage(), {k: r.__dict__[k] for k in ("idp", "fields") if k in r.__dict__})
        for r in caplog.records
    ]
    assert logged == [
        ("account registered", {"idp": "suomifi"}),
        ("login route linked to an account", {"idp": "hus"}),
        ("account edited", {"fields": "phone,partners"}),
        ("account e-mail address changed and confirmed", {}),
        ("account deleted by its owner", {}),
    ]
    assert "example.fi" not in caplog.text and "0101" not in caplog.text


async def test_a_link_to_another_persons_account_is_refused_even_below_the_level(
    world: World,
) -> None:
    """Two logins in one transaction whose identity codes differ are two people: the link is
    refused also when the linking login's code is below the level that may record it."""
    account = await world.accounts.register(keys_of(SUOMIFI), TYPED, world.catalogue)
    other_person = replace(HUS, hetu="311280-999J", acr=LOA2)
    with pytest.raises(PersonMismatchError):
        await world.accounts.link(account, keys_of(other_person), proof="both logins")
    assert [link.idp_id for link in await world.accounts.links(account.account_id)] == ["suomifi"]
    assert world.sender.sent == []


async def test_a_proven_code_linked_later_finds_the_account_by_any_route(world: World) -> None:
    account = await world.accounts.register(keys_of(HUS), TYPED, world.catalogue)
    await world.accounts.link(account, keys_of(SUOMIFI), proof="both logins")
    third = keys_of(replace(SUOMIFI, idp_id="other", issuer="https://other.example", acr=LOA3))
    assert await world.accounts.find(third) == account
