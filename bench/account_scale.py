"""Login time for an existing professional account with 1 000 and with 1 000 000 accounts in the
store (issue 6), reported as the ratio large/small; figures, never pass/fail.

Two parts, both on copies of cached generated databases (`bench._accounts_db`: N accounts with
their partners, links, person hashes and audit entries, made fast and kept under var/bench/):

1. **Account lookup alone**, in process: `Accounts(store.accounts, clock).find(keys)` on an open
   `SQLiteStore`, one call at a time, for link hashes picked across the whole table (an existing
   account: its row, its partners, `record_login`), and for unknown link and person hashes (a
   first login, before registration: both indexes probed, nothing found). The statements it ran
   are recorded once (untimed) and then also replayed by plain `sqlite3` in this thread ("SQL
   alone": the same work without aiosqlite's thread hops), and each is run under EXPLAIN QUERY
   PLAN on the large database: a SCAN there would be a lookup that grows with the store.
2. **Full logins** of one existing account through real HTTP, one broker (`python -m broker
   serve`, one uvicorn worker) per database size, both at once, and the mock organisation OIDC
   IdP: `GET /authorize` -> role, route, group and organisation pages -> the mock's HUS login
   (maija.meikalainen) -> `/upstream/oidc/callback/hus` -> the code -> `POST /token`; each login
   with an empty cookie jar. Before the brokers start, the test user's account is registered in both
   databases through the store (`register_account`) under the link hash `identity_keys` gives
   for the Identity the broker builds for her (the mock's HUS issuer on this run's port and her
   `sub`, keyed with the broker's own subject key). Whether the journey looked the account up is
   read back afterwards: `Accounts.find` sets that link's `last_login_at`. Until the journey
   calls `find`, the logins do not touch the accounts at all (the report says so); from then on
   this part measures the lookup inside a real login without a change here, and a login that
   lands on registration instead of the portal is an error, not a figure.

Runs are interleaved (small, large, small, ...) so a noisy moment hits both. Placement with
--pin (as in `bench.code_redemption`): the lookups on CPU 0; then both brokers on CPU 0, the mock
IdP and this process (the load generator) on CPU 1.

    .venv/bin/python -m bench.account_scale [--runs 5] [--lookups 2000] [--logins 100]
        [--concurrency 4] [--sizes 1000,1000000] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import _accounts_db
from bench._harness import (
    CLIENT_CPU,
    SERVER_CPU,
    UPSTREAM_ORG,
    Client,
    CPUWindow,
    Errors,
    can_pin,
    free_port,
    process_tree_cpu,
    register_client,
    running,
    running_server,
    server_log_problems,
    summaries,
    write_idp_configs,
    write_settings,
)
from bench._stats import fmt_range, percentile, show, stoppable, summary
from bench.code_redemption import (
    _token_form,
    first_login,
    register_account,
    test_user_keys,
)
from broker.accounts.service import Accounts, IdentityKeys
from broker.clock import SystemClock
from broker.store.sqlite import SQLiteStore

SIZES = (1_000, 1_000_000)
WARMUP_LOOKUPS = 200
WARMUP_LOGINS = 3
MISSES_PER_RUN = 4  # one unknown identity for every this many lookups of an existing account


# -- part 1: the lookup alone ------------------------------------------------------------------


@dataclass
class Recorder:
    """Every statement the store runs, with its parameters, while `on`."""

    on: bool = False
    statements: list[tuple[str, tuple[Any, ...]]] | None = None

    def wrap(self, store: SQLiteStore) -> None:
        self.statements = []
        for name in ("_all", "_run"):
            original = getattr(store, name)

            async def recorded(sql: str, params: Any = (), _original: Any = original) -> Any:
                if self.on and self.statements is not None:
                    self.statements.append((sql, tuple(params)))
                return await _original(sql, params)

            setattr(store, name, recorded)


def _keys(link_hash: str, person_hash: str | None = None) -> IdentityKeys:
    return IdentityKeys(
        link_hash,
        person_hash,
        idp_id="hus",
        route="organisation",
        person_proven=person_hash is not None,  # a trusted code at the linking level
    )


def _unknown(count: int) -> list[IdentityKeys]:
    rng = random.Random(count)
    return [
        _keys(_accounts_db.random_token(rng, 32), _accounts_db.random_token(rng, 32))
        for _ in range(count)
    ]


@dataclass
class LookupTarget:
    size: int
    path: Path
    store: SQLiteStore
    accounts: Accounts
    hits: list[IdentityKeys]
    misses: list[IdentityKeys]
    recorder: Recorder
    replay_db: sqlite3.Connection


async def _timed_finds(
    target: LookupTarget, keys: Sequence[IdentityKeys], hit: bool
) -> list[float]:
    latencies = []
    for key in keys:
        t0 = time.perf_counter()
        found = await target.accounts.find(key)
        latencies.append(time.perf_counter() - t0)
        if (found is not None) != hit:
            raise RuntimeError(f"{target.size} accounts: find() {'missed' if hit else 'found'}")
    return latencies


def _replay(db: sqlite3.Connection, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> float:
    """Seconds to run the recorded statements with plain sqlite3 (autocommit, as the store)."""
    start = time.perf_counter()
    for sql, params in statements:
        db.execute(sql, params).fetchall()
    return time.perf_counter() - start


def _replay_connection(path: Path) -> sqlite3.Connection:
    """Long-lived, as the store's own; its pragmas (SQLite's default 2 MiB page cache too)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
        db.execute(f"PRAGMA {pragma}")
    return db


def _query_plans(
    path: Path, statements: Sequence[tuple[str, tuple[Any, ...]]]
) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    plans = []
    try:
        for sql in dict.fromkeys(sql for sql, _ in statements):
            params = next(p for s, p in statements if s == sql)
            rows = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            detail = [str(row[-1]) for row in rows]
            plans.append(
                {"sql": sql, "plan": detail, "scans": [d for d in detail if d.startswith("SCAN")]}
            )
    finally:
        db.close()
    return plans


async def _open_target(size: int, path: Path, lookups: int) -> LookupTarget:
    hits = [
        _keys(h)
        for h in _accounts_db.sample_keys(path, "link_hash", "account_links", lookups, size)
    ]
    store = SQLiteStore(path)
    await store.open()
    recorder = Recorder()
    recorder.wrap(store)
    misses = _unknown(max(1, lookups // MISSES_PER_RUN))
    accounts = Accounts(store.accounts, SystemClock())
    replay_db = _replay_connection(path)
    return LookupTarget(size, path, store, accounts, hits, misses, recorder, replay_db)


async def _lookup_runs(paths: dict[int, Path], runs: int, lookups: int) -> dict[str, Any]:
    targets = [await _open_target(size, path, lookups) for size, path in paths.items()]
    per_size: dict[int, dict[str, Any]] = {t.size: {"runs": []} for t in targets}
    try:
        statements: dict[int, dict[str, list[tuple[str, tuple[Any, ...]]]]] = {}
        for t in targets:  # untimed: warm-up, and the statements the store runs
            await _timed_finds(t, t.hits[:WARMUP_LOOKUPS], True)
            t.recorder.on = True
            recorded: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
            for kind, keys, hit in (("hit", t.hits, True), ("miss", t.misses, False)):
                t.recorder.statements = []
                await _timed_finds(t, keys, hit)
                recorded[kind] = t.recorder.statements
            t.recorder.on = False
            statements[t.size] = recorded
            _replay(t.replay_db, recorded["hit"][: WARMUP_LOOKUPS * 3])
            per_size[t.size]["statements_per_find"] = {
                kind: len(s) / len(t.hits if kind == "hit" else t.misses)
                for kind, s in recorded.items()
            }
        for _ in range(runs):
            for t in targets:
                per_size[t.size]["runs"].append(await _one_lookup_run(t, statements[t.size]))
    finally:
        for t in targets:
            await t.store.close()
            t.replay_db.close()
    largest = max(paths)
    plans = _query_plans(paths[largest], statements[largest]["hit"] + statements[largest]["miss"])
    for data in per_size.values():
        for key in ("hit_us", "hit_p50_us", "hit_p95_us", "miss_us", "sql_hit_us", "sql_miss_us"):
            data[key] = summary([r[key] for r in data["runs"]])
    return {"sizes": per_size, "query_plans": plans, "plans_on": largest}


async def _one_lookup_run(
    t: LookupTarget, statements: dict[str, list[tuple[str, tuple[Any, ...]]]]
) -> dict[str, float]:
    hits = await _timed_finds(t, t.hits, True)
    misses = await _timed_finds(t, t.misses, False)
    sql_hit = await asyncio.to_thread(_replay, t.replay_db, statements["hit"])
    sql_miss = await asyncio.to_thread(_replay, t.replay_db, statements["miss"])
    hits.sort()
    return {
        "hit_us": sum(hits) / len(hits) * 1e6,
        "hit_p50_us": percentile(hits, 0.5) * 1e6,
        "hit_p95_us": percentile(hits, 0.95) * 1e6,
        "miss_us": sum(misses) / len(misses) * 1e6,
        "sql_hit_us": sql_hit / len(t.hits) * 1e6,
        "sql_miss_us": sql_miss / len(t.misses) * 1e6,
    }


# -- part 2: full logins -----------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    size: int
    base: str
    pid: int
    client: Client
    db: Path
    link_hash: str


def last_login_at(db: Path, link_hash: str) -> float | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT last_login_at FROM account_links WHERE link_hash = ?", (link_hash,)
        ).fetchone()
    finally:
        conn.close()
    return None if row is None else row[0]


async def log_in(http: httpx.AsyncClient, broker: Broker, mock: str) -> None:
    """One whole login from an empty cookie jar, and its code redeemed."""
    http.cookies.clear()
    try:
        code = await first_login(http, broker.client, broker.base, mock)
    except RuntimeError as exc:
        if "/account/" in str(exc):
            raise RuntimeError(f"the broker did not find the account: {exc}") from exc
        raise
    token = await http.post(
        "/token", data=_token_form(code), headers={"Authorization": broker.client.basic}
    )
    if token.status_code != 200 or "id_token" not in token.json():
        raise RuntimeError(f"POST /token: {token.status_code} {token.text[:300]!r}")


async def timed_logins(broker: Broker, mock: str, logins: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = Errors()
    remaining = iter(range(logins))

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=broker.base, timeout=60.0) as http:
            for _ in remaining:
                t0 = time.perf_counter()
                try:
                    await log_in(http, broker, mock)
                    latencies.append(time.perf_counter() - t0)
                except (RuntimeError, httpx.HTTPError, KeyError, ValueError) as exc:
                    errors.add({"size": broker.size, "error": f"{type(exc).__name__}: {exc}"})

    with CPUWindow({"server": lambda: process_tree_cpu(broker.pid)}) as window:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, server_cpu = window.seconds, window.cpu["server"]
    ok = len(latencies)
    latencies.sort()
    return {
        "logins": logins,
        "ok": ok,
        "errors": errors.count,
        "error_samples": errors.samples,
        "logins_per_s": ok / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "server_cpu_ms_per_login": server_cpu * 1000 / max(ok, 1),
    }


async def _login_runs(
    brokers: list[Broker], mock: str, runs: int, logins: int, concurrency: int
) -> dict[int, dict[str, Any]]:
    per_size: dict[int, dict[str, Any]] = {b.size: {"runs": []} for b in brokers}
    for broker in brokers:
        before = last_login_at(broker.db, broker.link_hash)
        async with httpx.AsyncClient(base_url=broker.base, timeout=60.0) as http:
            for _ in range(WARMUP_LOGINS):
                await log_in(http, broker, mock)
        after = last_login_at(broker.db, broker.link_hash)
        per_size[broker.size]["journey_finds_account"] = after is not None and after != before
    for _ in range(runs):
        for broker in brokers:
            per_size[broker.size]["runs"].append(
                await timed_logins(broker, mock, logins, concurrency)
            )
    for data in per_size.values():
        keys = ("logins_per_s", "p50_ms", "p95_ms", "server_cpu_ms_per_login")
        data |= summaries(data["runs"], keys)
    return per_size


def _logins(
    directory: Path, paths: dict[int, Path], runs: int, logins: int, concurrency: int, pin: bool
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    ports = {size: free_port() for size in paths}
    mock_port = free_port(*ports.values())
    mock_url = f"http://127.0.0.1:{mock_port}"
    idp_configs = write_idp_configs(directory / "idp_configs", mock_url)
    configs, link_hashes, clients = {}, {}, {}
    for size, path in paths.items():
        configs[size] = write_settings(path.parent, ports[size], idp_configs)
        keys = test_user_keys(path.parent, mock_url)
        asyncio.run(register_account(path, keys))
        link_hashes[size] = keys.link_hash
        clients[size] = register_client(configs[size], "RS256")
    logs = {size: directory / f"broker-{size}.log" for size in paths}
    mock_log = directory / "mock-idp.log"
    with contextlib.ExitStack() as stack:
        brokers = []
        for size, path in paths.items():
            server = stack.enter_context(
                running_server(configs[size], logs[size], ports[size], pin)
            )
            brokers.append(
                Broker(size, server.base, server.pid, clients[size], path, link_hashes[size])
            )
        stack.enter_context(_running_mock(mock_log, mock_port, [b.base for b in brokers], pin))
        if pin:
            os.sched_setaffinity(0, {CLIENT_CPU})
        per_size = asyncio.run(_login_runs(brokers, mock_url, runs, logins, concurrency))
    problems = [f"{s}: {line}" for s, log in logs.items() for line in server_log_problems(log)]
    problems += ["mock: " + line for line in server_log_problems(mock_log)]
    return per_size, problems


@contextlib.contextmanager
def _running_mock(log: Path, port: int, brokers: list[str], pin: bool) -> Iterator[int]:
    """The mock organisation OIDC IdP accepting every broker's callback; with --pin on CPU 1."""
    cmd = [sys.executable, "-m", "mock_idps.oidc_idp", "--host", "127.0.0.1", "--port", str(port)]
    for base in brokers:
        cmd += ["--redirect-uri", base + "/upstream/oidc/callback/{org}"]
    cmd += ["--log-level", "WARNING"]
    if pin:
        cmd = ["taskset", "-c", str(CLIENT_CPU), *cmd]
    health = f"http://127.0.0.1:{port}/{UPSTREAM_ORG}/.well-known/openid-configuration"
    with running("mock IdP", cmd, log, health) as pid:
        yield pid


# -- the benchmark -----------------------------------------------------------------------------


def run(
    runs: int = 5,
    lookups: int = 2000,
    logins: int = 100,
    concurrency: int = 4,
    pin: bool | None = None,
    sizes: Sequence[int] = SIZES,
) -> dict[str, Any]:
    if min(runs, lookups, logins, concurrency) < 1 or len(sizes) < 2:
        raise ValueError("runs, lookups, logins and concurrency >= 1, and two sizes or more")
    pin = can_pin() if pin is None else pin and can_pin()
    started = time.perf_counter()
    databases = {n: _accounts_db.cached_database(n) for n in sorted(sizes)}
    affinity = os.sched_getaffinity(0)
    with stoppable(), tempfile.TemporaryDirectory(prefix="sote-bench-accounts-") as tmp:
        paths = _copies(Path(tmp), {n: path for n, (path, _) in databases.items()})
        if pin:  # the brokers' CPU, idle until they start
            os.sched_setaffinity(0, {SERVER_CPU})
        lookup = asyncio.run(_lookup_runs(paths, runs, lookups))
        os.sched_setaffinity(0, affinity)
        per_size, problems = _logins(Path(tmp), paths, runs, logins, concurrency, pin)
    return {
        "benchmark": "account_scale",
        "runs": runs,
        "lookups_per_run": lookups,
        "misses_per_run": max(1, lookups // MISSES_PER_RUN),
        "logins_per_run": logins,
        "concurrency": concurrency,
        "pinned": pin,
        "placement": (
            f"brokers taskset -c {SERVER_CPU}; mock IdP taskset -c {CLIENT_CPU} and the load "
            f"generator on CPU {CLIENT_CPU}"
            if pin
            else "brokers, mock IdP and load generator share all CPUs"
        ),
        "databases": {str(n): facts for n, (_, facts) in databases.items()},
        "lookup": lookup,
        "logins": per_size,
        "ratios": {
            "lookup": ratios(lookup["sizes"], LOOKUP_RATIOS),
            "logins": ratios(per_size, LOGIN_RATIOS),
        },
        "server_log_problems": problems[:20],
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def _copies(directory: Path, cached: dict[int, Path]) -> dict[int, Path]:
    """A private copy of each cached database (the runs write to it), one directory per size."""
    paths = {}
    for n, path in cached.items():
        (directory / str(n)).mkdir()
        paths[n] = directory / str(n) / "broker.db"
        shutil.copyfile(path, paths[n])
    return paths


LOOKUP_RATIOS = ("hit_us", "hit_p95_us", "miss_us", "sql_hit_us", "sql_miss_us")
LOGIN_RATIOS = ("logins_per_s", "p50_ms", "p95_ms", "server_cpu_ms_per_login")


def ratios(per_size: dict[int, dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Largest size over smallest: of the medians, and the min-max of the runs' own ratios
    (run i of one size against run i of the other, which ran next to it)."""
    small, large = per_size[min(per_size)], per_size[max(per_size)]
    found: dict[str, Any] = {}
    for key in keys:
        found[key] = large[key]["median"] / small[key]["median"]
        pairs = [b[key] / a[key] for a, b in zip(small["runs"], large["runs"], strict=True)]
        found[key + "_runs"] = summary(pairs)
    return found


def report(result: dict[str, Any]) -> str:
    sizes = sorted(result["lookup"]["sizes"], key=int)
    small, large = sizes[0], sizes[-1]
    lines = [f"Account store scale: {', '.join(f'{int(n):,}' for n in sizes)} accounts"]
    for n, facts in result["databases"].items():
        how = "reused" if facts["reused"] else "generated now"
        lines.append(
            f"  database {int(n):,} accounts: {facts['bytes'] / 1e6:,.0f} MB, generated in "
            f"{facts['generate_seconds']:,} s ({how}; {facts['rows']['account_links']:,} links, "
            f"{facts['rows']['account_person_ids']:,} person hashes)"
        )
    lookup = result["lookup"]
    lines.append(
        f"  Accounts.find alone (in process, one at a time), {result['runs']} runs x "
        f"{result['lookups_per_run']} existing + {result['misses_per_run']} unknown identities:"
    )
    for n in sizes:
        r = lookup["sizes"][n]
        per = r["statements_per_find"]
        lines.append(
            f"    {int(n):>9,}  existing {fmt_range(r['hit_us'])} us/find (p50 "
            f"{fmt_range(r['hit_p50_us'])}, p95 {fmt_range(r['hit_p95_us'])})   unknown "
            f"{fmt_range(r['miss_us'])} us   SQL alone {fmt_range(r['sql_hit_us'], 1)} / "
            f"{fmt_range(r['sql_miss_us'], 1)} us   ({per['hit']:.0f} / {per['miss']:.0f} "
            "statements)"
        )
    ratio = result["ratios"]["lookup"]
    lines.append(
        f"    ratio {int(large):,}/{int(small):,}: existing {_ratio(ratio, 'hit_us')}, p95 "
        f"{_ratio(ratio, 'hit_p95_us')}, unknown {_ratio(ratio, 'miss_us')}, SQL alone "
        f"{_ratio(ratio, 'sql_hit_us')} / {_ratio(ratio, 'sql_miss_us')}"
    )
    scans = [p for p in lookup["query_plans"] if p["scans"]]
    lines.append(
        f"    query plans on {int(lookup['plans_on']):,} accounts: "
        + ("every statement uses an index" if not scans else f"{len(scans)} SCAN(s):")
    )
    for plan in lookup["query_plans"]:
        lines.append(f"      {plan['sql'][:90]}  ->  {'; '.join(plan['plan'])}")
    logins = result["logins"]
    lines.append(
        f"  Full logins of an existing account (authorize -> journey -> mock HUS -> callback -> "
        f"/token), 1 uvicorn worker per size, {result['runs']} runs x "
        f"{result['logins_per_run']}, {result['concurrency']} in flight ({result['placement']}):"
    )
    for n in sizes:
        r = logins[n]
        lines.append(
            f"    {int(n):>9,}  {fmt_range(r['logins_per_s'], 1)} logins/s   p50 "
            f"{fmt_range(r['p50_ms'], 1)} ms   p95 {fmt_range(r['p95_ms'], 1)} ms   broker CPU "
            f"{fmt_range(r['server_cpu_ms_per_login'], 1)} ms/login   errors {r['errors']}"
        )
    ratio = result["ratios"]["logins"]
    lines.append(
        f"    ratio {int(large):,}/{int(small):,}: p50 {_ratio(ratio, 'p50_ms')}, p95 "
        f"{_ratio(ratio, 'p95_ms')}, logins/s {_ratio(ratio, 'logins_per_s')}, broker CPU "
        f"{_ratio(ratio, 'server_cpu_ms_per_login')}"
    )
    found = [logins[n]["journey_finds_account"] for n in sizes]
    lines.append(
        "    the journey looked the account up (its last_login_at changed): "
        + ("yes" if all(found) else "NO: these logins do not include the account lookup yet")
    )
    for n in sizes:
        for run_result in logins[n]["runs"]:
            lines.extend(f"  ERROR {json.dumps(s)}" for s in run_result["error_samples"])
    if result["server_log_problems"]:
        lines.append("  log ERROR lines:")
        lines.extend(f"    {line}" for line in result["server_log_problems"])
    return "\n".join(lines)


def _ratio(ratios_: dict[str, Any], key: str) -> str:
    spread = ratios_[key + "_runs"]
    return f"{ratios_[key]:.2f} (runs {spread['min']:.2f}-{spread['max']:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=2000, help="finds per run and size")
    parser.add_argument("--logins", type=int, default=100, help="logins per run and size")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="account counts")
    parser.add_argument("--no-pin", dest="pin", action="store_false", default=None)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    result = run(args.runs, args.lookups, args.logins, args.concurrency, args.pin, sizes)
    show(result, report, args.json)
    return 0 if all_ok(result) else 1


def all_ok(result: dict[str, Any]) -> bool:
    return all(r["errors"] == 0 for r in result["logins"].values())


if __name__ == "__main__":
    sys.exit(main())
