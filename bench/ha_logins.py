"""Organisation OIDC logins per second at 50 concurrent logins: one replica on SQLite, one on
PostgreSQL, and two on PostgreSQL behind the round-robin balancer (plus one on PostgreSQL behind
the balancer, to tell the balancer's own cost from the second replica's gain).

A login, each from an empty cookie jar: `GET /authorize` (PKCE S256) → `/login/role`
(professional) → `/login/route` (organisation) → `/login/group` → `/login/organisation` (HUS),
each page GET and its form POSTed → the MOCK organisation IdP's login form (`python -m
mock_idps.oidc_idp`, maija.meikalainen) → the broker's `/upstream/oidc/callback/hus` → the code on
the portal's redirect URI → `POST /token` (client_secret_basic, ES256 ID token), which must
answer 200 with an id_token (`bench.code_redemption.first_login` does the journey and checks
every hop). Organisation routes register automatically, so there is no registration form.

Setup per scenario (not timed): a temporary directory, settings as `bench.code_redemption`
writes them (development mode, rate limits off, logging WARNING, the committed idp_configs/
pointed at the mock), for PostgreSQL `store.backend: postgresql` on a throwaway cluster
(`scripts/pg_cluster.py`, durability off as in the tests) after `sote-broker migrate`; one client
made with the CLI; the mock IdP; the replicas (`python -m broker serve`, one uvicorn worker each,
same directory: keys, cookie secret and subject key shared) and, where named, the balancer
(`python -m scripts.balancer`). The issuer is the front: the balancer, or the lone replica.
Ten untimed logins warm up, then `runs` runs of `logins` logins with `concurrency` in flight.
Nothing is pinned: replicas, PostgreSQL, the mock, the balancer and this load generator share the
machine's cores, as on a small host.

Reported per scenario: logins/s, per-request latency p50 and p99 (every HTTP request of every
login, as this client sees it: queueing included), per-login p50, and the CPU ms per login of the
brokers, PostgreSQL (its whole process tree), the balancer and the mock IdP.

    .venv/bin/python -m bench.ha_logins [--runs 3] [--logins 300] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._harness import (
    REPO,
    Client,
    CPUWindow,
    Errors,
    descendants_cpu,
    free_port,
    register_client,
    running,
    running_mock_idp,
    server_log_problems,
    summaries,
    write_idp_configs,
    write_settings,
)
from bench._stats import fmt_range, percentile, show, stoppable, summary
from bench.code_redemption import (
    _jwt_header,
    _token_form,
    first_login,
)
from scripts.pg_cluster import Cluster

WARMUP_LOGINS = 10


@dataclass(frozen=True)
class Scenario:
    name: str
    backend: str  # sqlite | postgresql
    replicas: int
    balancer: bool


SCENARIOS = (
    Scenario("1 replica, SQLite", "sqlite", 1, False),
    Scenario("1 replica, PostgreSQL", "postgresql", 1, False),
    Scenario("1 replica, PostgreSQL, balancer", "postgresql", 1, True),
    Scenario("2 replicas, PostgreSQL, balancer", "postgresql", 2, True),
)


class TimingTransport(httpx.AsyncBaseTransport):
    """Records each request's latency, the body read included; one pool for every login."""

    def __init__(self, connections: int) -> None:
        # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout closes
        # them from its side: reusing one the server is closing is a ReadError, not a login's.
        limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2
        )
        self._inner = httpx.AsyncHTTPTransport(limits=limits)
        self.latencies: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        self.latencies.append(time.perf_counter() - t0)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _tree_cpu_of(pids: list[int]) -> Callable[[], float]:
    return lambda: sum(descendants_cpu(p) for p in pids)


async def one_login(
    transport: TimingTransport, client: Client, front: str, idp_url: str, errors: Errors
) -> float | None:
    t0 = time.perf_counter()
    http = httpx.AsyncClient(base_url=front, transport=transport, timeout=60.0)  # own cookie jar
    try:
        code = await first_login(http, client, front, idp_url)
        response = await http.post(
            "/token", data=_token_form(code), headers={"Authorization": client.basic}
        )
        body = response.json() if response.status_code == 200 else {}
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or _jwt_header(id_token).get("alg") != client.alg:
            errors.add({"status": response.status_code, "body": response.text[:300]})
            return None
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        errors.add({"exception": f"{type(exc).__name__}: {str(exc)[:300]}"})
        return None
    return time.perf_counter() - t0


async def timed_run(
    client: Client,
    front: str,
    idp_url: str,
    count: int,
    concurrency: int,
    pids: dict[str, list[int]],
) -> dict[str, Any]:
    transport = TimingTransport(concurrency * 2)
    errors = Errors()
    login_times: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            took = await one_login(transport, client, front, idp_url, errors)
            if took is not None:
                login_times.append(took)

    processes = {role: _tree_cpu_of(ps) for role, ps in pids.items()}
    with CPUWindow(processes) as window:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu, own, others = window.seconds, window.cpu, window.own, window.others
    await transport.aclose()
    latencies = sorted(transport.latencies)
    login_times.sort()
    ok = len(login_times)
    return {
        "logins": count,
        "ok": ok,
        "errors": errors.count,
        "error_samples": errors.samples,
        "seconds": elapsed,
        "logins_per_s": ok / elapsed,
        "requests": len(latencies),
        "request_p50_ms": percentile(latencies, 0.50) * 1000,
        "request_p99_ms": percentile(latencies, 0.99) * 1000,
        "login_p50_ms": percentile(login_times, 0.50) * 1000,
        "cpu_ms_per_login": {role: v * 1000 / max(ok, 1) for role, v in cpu.items()},
        "loadgen_cpu_ms_per_login": own * 1000 / max(ok, 1),
        "others_cpu_pct": others / elapsed * 100,
    }


def _settings(directory: Path, front_port: int, idp_configs: Path, dsn: str | None) -> Path:
    path = write_settings(directory, front_port, idp_configs)
    if dsn is not None:
        text = path.read_text().replace(
            "  sqlite_path: broker.db\n", f"  backend: postgresql\n  dsn: {json.dumps(dsn)}\n"
        )
        path.write_text(text)
    return path


@contextlib.contextmanager
def _postgres() -> Iterator[tuple[str, int]]:
    """A throwaway cluster in a directory of its own (as root it belongs to `postgres`, which
    cannot enter the benchmark's 0700 temporary directory)."""
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="sote-bench-pg-")), free_port())
    try:
        cluster.init()
        cluster.start()
        try:
            cluster.wait_ready(30, "broker")
            pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
            yield cluster.dsn("broker"), pid
        finally:
            cluster.stop("immediate")
    finally:
        shutil.rmtree(cluster.directory, ignore_errors=True)


def run_scenario(
    scenario: Scenario, runs: int, count: int, concurrency: int, directory: Path
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        pids: dict[str, list[int]] = {"brokers": [], "postgresql": [], "balancer": [], "mock": []}
        dsn = None
        if scenario.backend == "postgresql":
            dsn, pg_pid = stack.enter_context(_postgres())
            pids["postgresql"].append(pg_pid)
        replica_ports = [free_port() for _ in range(scenario.replicas)]
        front_port = free_port(*replica_ports) if scenario.balancer else replica_ports[0]
        idp_port = free_port(front_port, *replica_ports)
        idp_url = f"http://127.0.0.1:{idp_port}"
        config = _settings(
            directory, front_port, write_idp_configs(directory / "idp_configs", idp_url), dsn
        )
        front = f"http://127.0.0.1:{front_port}"
        if dsn is not None:
            subprocess_run([*_broker(config), "migrate"])
        client = register_client(config, "ES256")
        logs = []
        idp_log = directory / "mock-idp.log"
        stack.enter_context(running_mock_idp(idp_log, idp_port, front_port))
        logs.append(idp_log)
        for port in replica_ports:
            log = directory / f"broker-{port}.log"
            env_cmd = ["env", f"SOTE_BROKER__PORT={port}", *_broker(config), "serve"]
            pid = stack.enter_context(
                running(f"broker {port}", env_cmd, log, f"http://127.0.0.1:{port}/healthz")
            )
            pids["brokers"].append(pid)
            logs.append(log)
        if scenario.balancer:
            log = directory / "balancer.log"
            upstreams = [f"http://127.0.0.1:{p}" for p in replica_ports]
            cmd = [sys.executable, "-m", "scripts.balancer", "--port", str(front_port), *upstreams]
            pids["balancer"].append(
                stack.enter_context(running("balancer", cmd, log, front + "/healthz"))
            )
            logs.append(log)
        pids["mock"] = _pids_listening(idp_port)

        async def drive() -> list[dict[str, Any]]:
            warm = await timed_run(client, front, idp_url, WARMUP_LOGINS, WARMUP_LOGINS, {})
            if warm["errors"]:
                raise RuntimeError(f"warm-up logins failed: {warm['error_samples']}")
            return [
                await timed_run(client, front, idp_url, count, concurrency, pids)
                for _ in range(runs)
            ]

        results = asyncio.run(drive())
    problems = [f"{log.name}: {line}" for log in logs for line in server_log_problems(log)]
    cpu_roles = results[0]["cpu_ms_per_login"].keys()
    figures = ("logins_per_s", "request_p50_ms", "request_p99_ms", "login_p50_ms")
    return {
        "scenario": scenario.name,
        "runs": results,
        **summaries(results, (*figures, "loadgen_cpu_ms_per_login", "others_cpu_pct")),
        "requests_per_login": results[0]["requests"] / max(results[0]["ok"], 1),
        "cpu_ms_per_login": {
            role: summary([r["cpu_ms_per_login"][role] for r in results]) for role in cpu_roles
        },
        "log_problems": problems[:20],
    }


def _broker(config: Path) -> list[str]:
    return [sys.executable, "-m", "broker", "--config", str(config)]


def subprocess_run(cmd: list[str]) -> None:
    import subprocess

    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, cwd=REPO)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[-1]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def _pids_listening(port: int) -> list[int]:
    """The pid listening on `port` (the mock IdP), for its CPU figure; empty if not found."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
    if inode is None:
        return []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return [int(proc.name)]
    return []


def run(runs: int = 3, count: int = 300, concurrency: int = 50) -> dict[str, Any]:
    if runs < 1 or count < 1 or concurrency < 1:
        raise ValueError("runs, logins and concurrency must be at least 1")
    started = time.perf_counter()
    scenarios = []
    with stoppable():
        for scenario in SCENARIOS:
            print(f"  {scenario.name} ...", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory(prefix="sote-bench-ha-") as tmp:
                scenarios.append(run_scenario(scenario, runs, count, concurrency, Path(tmp)))
    return {
        "benchmark": "ha_logins",
        "runs": runs,
        "logins_per_run": count,
        "concurrency": concurrency,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "scenarios": scenarios,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Organisation OIDC logins (authorize -> choices -> mock IdP -> callback -> /token), "
        f"{result['runs']} runs x {result['logins_per_run']} logins, {result['concurrency']} in "
        f"flight, nothing pinned",
    ]
    for s in result["scenarios"]:
        cpu = ", ".join(
            f"{role} {v['median']:.1f}" for role, v in s["cpu_ms_per_login"].items() if v["max"]
        )
        lines.append(
            f"  {s['scenario']:<34} {fmt_range(s['logins_per_s'], 1)} logins/s   request p50 "
            f"{fmt_range(s['request_p50_ms'], 1)} ms   p99 {fmt_range(s['request_p99_ms'], 1)} ms"
            f"   login p50 {s['login_p50_ms']['median']:.0f} ms   errors {s['errors']}"
        )
        lines.append(
            f"  {'':<34} {s['requests_per_login']:.0f} requests/login; CPU ms/login: {cpu}, "
            f"load generator {s['loadgen_cpu_ms_per_login']['median']:.1f}; other processes "
            f"{fmt_range(s['others_cpu_pct'])} % of a core"
        )
        for run_result in s["runs"]:
            for sample in run_result["error_samples"]:
                lines.append(f"  ERROR: {json.dumps(sample)}")
        lines.extend(f"  log: {line}" for line in s["log_problems"])
    return "\n".join(lines)


def all_ok(result: dict[str, Any]) -> bool:
    return all(s["errors"] == 0 for s in result["scenarios"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--logins", type=int, default=300, help="logins per run and scenario")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.runs, args.logins, args.concurrency)
    show(result, report, args.json)
    return 0 if all_ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
