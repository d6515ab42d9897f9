"""The notices and IdP-outcome contract, on each backend (a real SQLite file, a real PostgreSQL
database), with two stores on one database standing for two broker processes or replicas."""

from __future__ import annotations

import asyncio
import dataclasses

from broker.store.base import Store
from broker.store.notices import NoticeRecord
from tests.store.conftest import StoreFactory

NOW = 1_800_000_000.0
TEXTS = {"fi": "Häiriö", "sv": "Störning", "en": "Disruption"}


def notice(notice_id: str = "n1", **fields: object) -> NoticeRecord:
    values: dict[str, object] = {
        "notice_id": notice_id,
        "scope": "organisation",
        "target": "hus",
        "severity": "severe",
        "texts": TEXTS,
        "starts_at": NOW,
        "created_at": NOW,
        **fields,
    }
    return NoticeRecord(**values)  # type: ignore[arg-type]


async def test_a_notice_round_trips_and_ends_once(store: Store) -> None:
    stored = notice(offline=True, ends_at=NOW + 3600)
    await store.notices.put(stored)
    assert await store.notices.get("n1") == stored
    assert [n.notice_id for n in await store.notices.active(NOW)] == ["n1"]
    assert await store.notices.end("n1", NOW + 10)
    assert not await store.notices.end("n1", NOW + 20)  # already ended
    assert not await store.notices.end("nobody", NOW)
    ended = await store.notices.get("n1")
    assert ended is not None and ended.ends_at == NOW + 10
    assert await store.notices.active(NOW + 10) == []
    assert [n.notice_id for n in await store.notices.all()] == ["n1"]


async def test_active_includes_scheduled_and_excludes_ended(store: Store) -> None:
    await store.notices.put(notice("later", starts_at=NOW + 100))
    await store.notices.put(notice("over", ends_at=NOW - 1))
    await store.notices.put(notice("open"))
    assert {n.notice_id for n in await store.notices.active(NOW)} == {"later", "open"}


async def test_an_automatic_notice_is_raised_by_one_replica_only(
    store_factory: StoreFactory,
) -> None:
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        auto = notice("auto:hus", source="automatic")
        raised = await asyncio.gather(*(s.notices.raise_once(auto) for s in [first, second] * 3))
        assert sorted(raised) == [False] * 5 + [True]
        assert await second.notices.end("auto:hus", NOW + 60)
        again = dataclasses.replace(auto, starts_at=NOW + 120, created_at=NOW + 120)
        assert await first.notices.raise_once(again)  # ended, so raised anew
        revived = await second.notices.get("auto:hus")
        assert revived is not None and revived.ends_at is None and revived.starts_at == NOW + 120
    finally:
        await first.close()
        await second.close()


async def test_idp_outcomes_are_summed_over_replicas_and_purged(
    store_factory: StoreFactory,
) -> None:
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        await asyncio.gather(
            *(
                s.idp_outcomes.count("hus", 10, failed=True, expires_at=NOW)
                for s in (first, second)
            ),
            first.idp_outcomes.count("hus", 11, failed=False, expires_at=NOW + 60),
            second.idp_outcomes.count("oys", 11, failed=True, expires_at=NOW + 60),
        )
        assert await first.idp_outcomes.totals("hus", 10) == (2, 1)
        assert await second.idp_outcomes.totals("hus", 11) == (0, 1)
        assert await second.idp_outcomes.totals("tyks", 0) == (0, 0)
        assert await first.purge_expired(NOW + 1) == 1
        assert await second.idp_outcomes.totals("hus", 0) == (0, 1)
    finally:
        await first.close()
        await second.close()
