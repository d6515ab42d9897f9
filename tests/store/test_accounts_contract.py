"""The account store contract on every backend: registration happens once per person even
when registrations race (in one process and across two), links and identifiers never cross
people, edits and deletions leave an audit trail, and the catalogue deactivates what an import
drops instead of deleting it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from broker.accounts.catalogue import bundled_catalogue, load_catalogue
from broker.errors import StoreError
from broker.store.accounts import (
    AccountExistsError,
    AccountRecord,
    AuditEntry,
    LinkRecord,
    PartnerOrganisationRecord,
    PersonMismatchError,
)
from broker.store.base import Store
from tests.store.conftest import StoreFactory

NOW = 1_800_000_000.0
TAMPERE, TAMK = "municipality:837", "school:tamk"


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    s = store_factory()
    await s.open()
    await load_catalogue(s.accounts, NOW)
    yield s
    await s.close()


def account(account_id: str = "a1", partners: tuple[str, ...] = (TAMPERE,)) -> AccountRecord:
    return AccountRecord(
        account_id=account_id,
        phone="+358401234567",
        email="maija@example.fi",
        partners=partners,
        created_at=NOW,
        updated_at=NOW,
    )


def link(link_hash: str = "l-suomifi", account_id: str = "a1", idp: str = "suomifi") -> LinkRecord:
    return LinkRecord(
        link_hash=link_hash, account_id=account_id, idp_id=idp, route="personal", linked_at=NOW
    )


def audit(account_id: str = "a1", action: str = "registered") -> AuditEntry:
    return AuditEntry(account_id, NOW, action, actor="self", route="personal")  # type: ignore[arg-type]


async def test_a_registered_account_is_found_by_its_link_and_person(store: Store) -> None:
    accounts = store.accounts
    await accounts.register_account(account(partners=(TAMK, TAMPERE)), link(), "p1", audit())
    found = await accounts.account_by_link("l-suomifi")
    assert found == account(partners=(TAMK, TAMPERE))  # the partners in the chosen order
    assert await accounts.account_by_person("p1") == found
    assert await accounts.account_by_link("l-other") is None
    assert [e.action for e in await store.audit.trail("a1")] == ["registered"]


async def test_a_second_registration_of_the_same_person_is_refused(store: Store) -> None:
    accounts = store.accounts
    await accounts.register_account(account(), link(), "p1", audit())
    with pytest.raises(AccountExistsError) as same_link:
        await accounts.register_account(account("a2"), link(account_id="a2"), None, audit("a2"))
    assert same_link.value.account_id == "a1"
    # another route, but the same national identifier: the same person
    with pytest.raises(AccountExistsError):
        await accounts.register_account(
            account("a2"), link("l-hus", "a2", "hus"), "p1", audit("a2")
        )
    assert await accounts.get_account("a2") is None
    assert await store.audit.trail("a2") == []


async def test_racing_registrations_leave_one_account(
    store: Store, store_factory: StoreFactory
) -> None:
    other_process = store_factory()
    await other_process.open()
    try:
        attempts = [
            s.accounts.register_account(
                account(f"a{n}"), link(account_id=f"a{n}"), "p1", audit(f"a{n}")
            )
            for n in range(6)
            for s in (store, other_process)
        ]
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        await other_process.close()
    winners = [o for o in outcomes if o is None]
    assert len(winners) == 1
    assert all(isinstance(o, AccountExistsError) for o in outcomes if o is not None)
    rows = await store.connection.all("SELECT account_id FROM accounts")
    assert len(rows) == 1


async def test_links_join_one_person_and_never_another(store: Store) -> None:
    accounts = store.accounts
    await accounts.register_account(account(), link(), "p1", audit())
    later = replace(link("l-hus", idp="hus"), linked_at=NOW + 1)
    await accounts.add_link(later, "p1", audit(action="linked"))
    assert await accounts.account_by_link("l-hus") == await accounts.get_account("a1")
    with pytest.raises(PersonMismatchError):  # HUS says it is someone else
        await accounts.add_link(link("l-pirha", idp="pirha"), "p2", audit(action="linked"))
    await accounts.register_account(account("a2"), link("l-b", "a2", "hus"), "p2", audit("a2"))
    with pytest.raises(AccountExistsError):  # a link already in use elsewhere
        await accounts.add_link(link("l-b"), None, audit(action="linked"))
    assert [ln.idp_id for ln in await accounts.links("a1")] == ["suomifi", "hus"]


async def test_edits_and_deletion_are_audited_and_the_trail_outlives_the_account(
    store: Store,
) -> None:
    accounts = store.accounts
    await accounts.register_account(account(), link(), "p1", audit())
    edited = replace(account(partners=(TAMK,)), phone="+358501112222", updated_at=NOW + 5)
    entry = replace(audit(action="edited"), changes={"fields": ["phone", "partners"]})
    assert await accounts.update_account(edited, entry)
    assert await accounts.get_account("a1") == edited
    assert not await accounts.update_account(replace(edited, account_id="nobody"), entry)
    with pytest.raises(StoreError):  # a partner organisation not in the catalogue
        await accounts.update_account(replace(edited, partners=("school:nowhere",)), entry)
    assert (await accounts.get_account("a1")) == edited  # nothing half-done

    assert await accounts.delete_account("a1", audit(action="deleted"))
    assert await accounts.get_account("a1") is None
    assert await accounts.account_by_person("p1") is None
    assert await accounts.links("a1") == []
    trail = await store.audit.trail("a1")
    assert [e.action for e in trail] == ["registered", "edited", "deleted"]
    assert trail[1].changes == {"fields": ["phone", "partners"]}
    # the person may register again afterwards
    await accounts.register_account(account("a3"), link(account_id="a3"), "p1", audit("a3"))


async def test_an_import_updates_adds_and_deactivates_without_losing_chosen_ones(
    store: Store,
) -> None:
    accounts = store.accounts
    await accounts.register_account(account(partners=(TAMK,)), link(), None, audit())
    everything = bundled_catalogue()
    kept = [org for org in everything if org.org_id != TAMK]
    renamed = [
        replace(org, names={**org.names, "en": "Tampere, city"}) if org.org_id == TAMPERE else org
        for org in kept
    ]
    new = PartnerOrganisationRecord("school:new", "school", {"fi": "Uusi", "sv": "Ny", "en": "New"})
    assert await accounts.replace_partner_organisations([*renamed, new], NOW + 1) == (1, 1, 1)
    active = {org.org_id: org for org in await accounts.partner_organisations()}
    assert TAMK not in active and "school:new" in active
    assert active[TAMPERE].names["en"] == "Tampere, city"
    every = {org.org_id: org for org in await accounts.partner_organisations(include_inactive=True)}
    assert every[TAMK].active is False
    assert (await accounts.get_account("a1")).partners == (TAMK,)  # type: ignore[union-attr]
    assert await accounts.replace_partner_organisations([*renamed, new], NOW + 2) == (0, 0, 0)


async def test_the_audit_trail_is_purged_past_its_retention(store: Store) -> None:
    accounts = store.accounts
    await accounts.register_account(account(), link(), None, audit())
    await store.audit.add(replace(audit(action="exported"), at=NOW + 100))
    assert await store.audit.purge(NOW + 1) == 1  # the registration, not the export
    assert [e.action for e in await store.audit.trail("a1")] == ["exported"]
    assert await accounts.get_account("a1") is not None  # the account itself stays
