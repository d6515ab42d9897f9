"""Broker SQLite databases with N professional accounts, generated fast and cached for reuse.

The schema is the broker's own: the file is created by `SQLiteStore.open()` (every migration)
and the bundled partner-organisation catalogue is seeded by `load_catalogue`, as on a first
start. The accounts then go in straight through `sqlite3`, `executemany` in chunks inside one
transaction (journal off, a large page cache), shaped like real ones:

    accounts            a random 22-character id, a Finnish mobile number in E.164, an e-mail
                        address, created in the last five years, nine in ten e-mails verified
    account_partners    1-3 distinct organisations of the bundled catalogue
    account_links       1-2 links with random 43-character link hashes (the shape of
                        `identity_keys`' keyed hash), each of an IdP in idp_configs/ and its
                        route, most with a last login
    account_person_ids  a random person hash for half of the accounts
    account_audit       one `registered` entry each, as `Accounts.register` writes it

The file is cached as var/bench/accounts-<N>-schema<latest migration>-gen<GENERATOR>.db (with a
.json beside it: how long it took, its size, the seed), so a rerun reuses it; a new migration or
a change here (bump GENERATOR) makes a new one. Generation is deterministic for a seed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from broker.accounts.catalogue import load_catalogue
from broker.store import migrations
from broker.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "var" / "bench"
GENERATOR = 1
SEED = 6  # issue 6
CHUNK = 20_000
NOW = 1_796_000_000.0  # a fixed "now" (2026-11), so that a seed gives the same file
FIVE_YEARS = 5 * 365 * 86400
# (idp_id, route) of idp_configs/, the organisations several times as likely as Suomi.fi
IDPS = [(org, "organisation") for org in ("hus", "pshva", "oys", "pirha", "tyks", "lshp")]
IDPS += [(org, "organisation") for org in ("soite", "pajjatha")] + [("suomifi", "personal")] * 3
FIRST = ("maija", "matti", "anna", "pekka", "sanna", "kaisa", "tiina", "elin", "juha", "riikka")
LAST = ("virtanen", "korhonen", "makela", "nieminen", "laine", "lindholm", "aikio", "lehtonen")
DOMAINS = ("hus.fi", "pshyvinvointi.fi", "ppshp.fi", "tyks.fi", "soite.fi", "example.fi")


def schema_version() -> int:
    return max(version for version, _, _ in migrations.load("sqlite"))


def cached_path(n: int) -> Path:
    return CACHE / f"accounts-{n}-schema{schema_version()}-gen{GENERATOR}.db"


def cached_database(n: int) -> tuple[Path, dict[str, Any]]:
    """The cached file for N accounts, generated first if missing; (path, its facts)."""
    path = cached_path(n)
    facts_path = path.with_suffix(".json")
    if path.exists() and facts_path.exists():
        facts: dict[str, Any] = json.loads(facts_path.read_text())
        return path, {**facts, "reused": True}
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    counts = generate(partial, n, SEED)
    facts = {
        "accounts": n,
        "rows": counts,
        "schema_version": schema_version(),
        "generator": GENERATOR,
        "seed": SEED,
        "generate_seconds": round(time.perf_counter() - started, 1),
        "bytes": partial.stat().st_size,
        "generated_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    partial.rename(path)
    facts_path.write_text(json.dumps(facts, indent=2) + "\n")
    return path, {**facts, "reused": False}


def generate(path: Path, n: int, seed: int) -> dict[str, int]:
    """A broker database at `path` with `n` accounts; the row count of each table."""
    org_ids = asyncio.run(_create_schema(path))
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000"):
            db.execute(f"PRAGMA {pragma}")
        counts = dict.fromkeys(_INSERTS, 0)
        db.execute("BEGIN")
        for start in range(0, n, CHUNK):
            rows = _rows(rng, org_ids, min(CHUNK, n - start))
            for table, sql in _INSERTS.items():
                db.executemany(sql, rows[table])
                counts[table] += len(rows[table])
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")  # as the broker keeps it
    finally:
        db.close()
    os.chmod(path, 0o600)
    return counts


async def _create_schema(path: Path) -> list[str]:
    """Every migration and the bundled catalogue, by the broker's own code; the active org ids."""
    store = SQLiteStore(path)
    await store.open()
    try:
        catalogue = await load_catalogue(store.accounts, NOW)
        organisations = await store.accounts.partner_organisations()
    finally:
        await store.close()
    return [org.org_id for org in organisations if catalogue.choosable(org.org_id)]


_INSERTS = {
    "accounts": "INSERT INTO accounts (account_id, phone, email, email_verified_at, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    "account_partners": "INSERT INTO account_partners (account_id, org_id, position) "
    "VALUES (?, ?, ?)",
    "account_links": "INSERT INTO account_links (link_hash, account_id, idp_id, route, "
    "linked_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?)",
    "account_person_ids": "INSERT INTO account_person_ids (person_hash, account_id) VALUES (?, ?)",
    "account_audit": "INSERT INTO account_audit (account_id, at, action, actor, route, changes) "
    "VALUES (?, ?, ?, ?, ?, ?)",
}


def random_token(rng: random.Random, size: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(size)).decode("ascii").rstrip("=")


def _rows(rng: random.Random, org_ids: list[str], count: int) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _INSERTS}
    for account in _accounts(rng, org_ids, count):
        for table, table_rows in account.items():
            rows[table].extend(table_rows)
    return rows


def _accounts(
    rng: random.Random, org_ids: list[str], count: int
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    for _ in range(count):
        account_id = random_token(rng, 16)
        created = NOW - rng.random() * FIVE_YEARS
        updated = created + rng.random() * (NOW - created) * 0.3
        verified = created + 60 if rng.random() < 0.9 else None
        phone = f"+35840{rng.randrange(10_000_000):07d}"
        email = (
            f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randrange(10_000)}@{rng.choice(DOMAINS)}"
        )
        partners = rng.sample(org_ids, rng.randint(1, 3))
        links = [rng.choice(IDPS) for _ in range(rng.randint(1, 2))]
        last_login = NOW - rng.random() * (NOW - created) if rng.random() < 0.8 else None
        changes = json.dumps({"idp": links[0][0], "partners": partners}, sort_keys=True)
        yield {
            "accounts": [(account_id, phone, email, verified, created, updated)],
            "account_partners": [(account_id, org, n) for n, org in enumerate(partners)],
            "account_links": [
                (random_token(rng, 32), account_id, idp, route, created, last_login)
                for idp, route in links
            ],
            "account_person_ids": [(random_token(rng, 32), account_id)]
            if rng.random() < 0.5
            else [],
            "account_audit": [(account_id, created, "registered", "self", links[0][1], changes)],
        }


def sample_keys(path: Path, column: str, table: str, count: int, seed: int) -> list[str]:
    """`count` values of `column` from rows spread over the whole table (by rowid)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (top,) = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()  # noqa: S608
        rowids = random.Random(seed).sample(range(1, top + 1), min(count, top))
        found: list[str] = []
        for start in range(0, len(rowids), 500):
            chunk = rowids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {column} FROM {table} WHERE rowid IN ({marks})"  # noqa: S608
            found.extend(row[0] for row in db.execute(sql, chunk))
    finally:
        db.close()
    random.Random(seed).shuffle(found)
    return found
