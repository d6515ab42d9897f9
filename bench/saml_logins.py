"""Full logins per second over the Suomi.fi route, through real HTTP, once per SAML crypto
backend: one broker with `saml_sp.crypto_backend: xmlsec` (in process), one with `xmlsec1`.

A login is what a browser and a portal do: `GET /authorize` (PKCE S256) → `/login/role`
(professional) → `/login/route` (personal) → the MOCK Suomi.fi (`python -m mock_idps.suomifi_idp`,
which signs the assertion, encrypts it to the broker and signs the Response, with the xmlsec1
program) → its picker form (varmennekortti, the test person 010280-952L) → the auto-submitted
form POSTed cross-site (no cookies) to the broker's ACS → `GET /upstream/saml/continue` → the
code on the portal's redirect URI → `POST /token` (client_secret_basic, RS256 ID token). Every
hop is checked; a login counts only when `/token` answers 200 with an id_token. Each login starts
with an empty cookie jar, so neither the broker's SSO session nor the mock's skips a step.

Setup (not timed): a temporary directory with two settings files (as `bench.code_redemption`
writes them, plus `saml_sp` with the backend and the key directory), the committed idp_configs/
pointed at the mock (http://127.0.0.1:8003 replaced); one confidential client per broker made
with the CLI; both brokers started (`python -m broker --config X serve`, one uvicorn worker
each), then the mock, which reads both brokers' SP metadata. Three untimed logins per broker warm
up (the first loads the mock's metadata).

Placement with --pin (the default where `taskset` exists and there are two CPUs): both brokers
under `taskset -c 0` (only one is driven at a time), the mock IdP under `taskset -c 1`, and this
load generator on CPU 1 too. The mock's three xmlsec1 runs per login make CPU 1 the busier core,
so logins/s can be capped by the mock rather than the broker: **broker CPU ms per login** (its
process and its children, i.e. its xmlsec1 runs, from /proc/<pid>/stat) is the figure that
compares the backends; `1000 / that` is what one core of broker would sustain.

    .venv/bin/python -m bench.saml_logins [--runs 3] [--logins 60] [--concurrency 4] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench._harness import (
    CLIENT_CPU,
    REDIRECT_URI,
    SERVER_CPU,
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
from bench._stats import fmt_range, percentile, show, stoppable
from bench.code_redemption import (
    Code,
    _authorize_params,
    _token_form,
    register_account,
)
from broker.accounts.service import IdentityKeys, person_hash
from broker.secret_files import load_or_create_keys
from broker.upstream.saml.crypto import CRYPTO_BACKENDS

MOCK_SUOMIFI_DEFAULT_URL = "http://127.0.0.1:8003"  # what idp_configs/suomifi.yaml points at
TEST_PERSON = ("varmennekortti", "010280-952L")  # mock_idps/suomifi_persons.yaml
WARMUP_LOGINS = 3
_HIDDEN = re.compile(r'name="([^"]+)" value="([^"]*)"')


@dataclass(frozen=True)
class Broker:
    backend: str
    base: str
    pid: int
    client: Client


def _hidden(page: httpx.Response, what: str) -> dict[str, str]:
    if page.status_code != 200:
        raise RuntimeError(f"{what}: {page.status_code} {page.text[:300]!r}")
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}


def _location(response: httpx.Response, what: str, starts_with: str) -> str:
    location: str = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not location.startswith(starts_with):
        raise RuntimeError(
            f"{what}: expected a redirect to {starts_with}..., got {response.status_code} "
            f"Location={location!r} body={response.text[:300]!r}"
        )
    return location


def _form(page: httpx.Response, form: str, what: str) -> str:
    found = re.search(rf'<form {form}method="post" action="([^"]+)"', page.text)
    if page.status_code != 200 or found is None:
        raise RuntimeError(f"{what}: no form ({page.status_code}) {page.text[:300]!r}")
    return html.unescape(found[1])


async def _choose(http: httpx.AsyncClient, path: str, choice: str) -> httpx.Response:
    hidden = _hidden(await http.get(path), f"GET {path}")
    return await http.post(path, data={**hidden, "choice": choice})


async def log_in(
    http: httpx.AsyncClient, no_cookies: httpx.AsyncClient, broker: Broker, mock: str
) -> None:
    """One whole login and code redemption (`http` has the broker as its base URL);
    RuntimeError names the hop that went wrong."""
    http.cookies.clear()
    no_cookies.cookies.clear()
    params, verifier, _ = _authorize_params(broker.client)
    first = await http.get("/authorize", params=params)
    _location(first, "GET /authorize", "/login/role")
    _location(await _choose(http, "/login/role", "professional"), "role", "/login/route")
    to_idp = await _choose(http, "/login/route", "personal")
    picker = await http.get(_location(to_idp, "route", mock + "/sso?"))
    method, hetu = TEST_PERSON
    fields = _hidden(picker, "the mock's picker")
    form = {"request": fields["request"], "csrf_token": fields["csrf_token"]}
    answer = await http.post(
        _form(picker, "", "picker"), data={**form, "method": method, "hetu": hetu}
    )
    acs = _form(answer, 'id="saml-post" ', "the mock's answer")
    fields = _hidden(answer, "the mock's answer")
    saml = {"SAMLResponse": fields["SAMLResponse"], "RelayState": fields["RelayState"]}
    held = await no_cookies.post(acs, data=saml)
    done = await http.get(_location(held, "POST ACS", "/upstream/saml/continue?h="))
    callback = _location(done, "continue", REDIRECT_URI + "?")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = await http.post(
        "/token",
        data=_token_form(Code(code, verifier, "")),
        headers={"Authorization": broker.client.basic},
    )
    if token.status_code != 200 or "id_token" not in token.json():
        raise RuntimeError(f"POST /token: {token.status_code} {token.text[:300]!r}")


async def timed_run(
    broker: Broker, mock: str, mock_pid: int, logins: int, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = Errors()
    remaining = iter(range(logins))

    async def worker() -> None:
        async with (
            httpx.AsyncClient(base_url=broker.base, timeout=60.0) as http,
            httpx.AsyncClient(timeout=60.0) as no_cookies,
        ):
            for _ in remaining:
                t0 = time.perf_counter()
                try:
                    await log_in(http, no_cookies, broker, mock)
                    latencies.append(time.perf_counter() - t0)
                except (RuntimeError, httpx.HTTPError, KeyError, ValueError) as exc:
                    errors.add({"backend": broker.backend, "error": f"{type(exc).__name__}: {exc}"})

    processes = {
        "server": lambda: process_tree_cpu(broker.pid),
        "mock": lambda: process_tree_cpu(mock_pid),
    }
    with CPUWindow(processes) as window:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, server_cpu, mock_cpu = window.seconds, window.cpu["server"], window.cpu["mock"]
    ok = len(latencies)
    latencies.sort()
    return {
        "logins": logins,
        "ok": ok,
        "errors": errors.count,
        "error_samples": errors.samples,
        "seconds": elapsed,
        "logins_per_s": ok / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "server_cpu_ms_per_login": server_cpu * 1000 / max(ok, 1),
        "server_busy_pct": server_cpu / elapsed * 100,
        "mock_cpu_ms_per_login": mock_cpu * 1000 / max(ok, 1),
        "loadgen_cpu_ms_per_login": window.own * 1000 / max(ok, 1),
        "others_cpu_pct": window.others / elapsed * 100,
    }


async def _drive(
    brokers: list[Broker], mock: str, mock_pid: int, runs: int, logins: int, concurrency: int
) -> dict[str, Any]:
    per_backend: dict[str, dict[str, Any]] = {b.backend: {"runs": []} for b in brokers}
    for broker in brokers:
        async with (
            httpx.AsyncClient(base_url=broker.base, timeout=60.0) as http,
            httpx.AsyncClient(timeout=60.0) as no_cookies,
        ):
            for _ in range(WARMUP_LOGINS):
                await log_in(http, no_cookies, broker, mock)
    for _ in range(runs):
        for broker in brokers:  # interleaved, so that a noisy moment hits both
            result = await timed_run(broker, mock, mock_pid, logins, concurrency)
            per_backend[broker.backend]["runs"].append(result)
    for data in per_backend.values():
        data |= summaries(
            data["runs"],
            (
                "logins_per_s",
                "p50_ms",
                "p95_ms",
                "server_cpu_ms_per_login",
                "server_busy_pct",
                "mock_cpu_ms_per_login",
                "loadgen_cpu_ms_per_login",
                "others_cpu_pct",
            ),
        )
        data["server_cpu_ceiling_per_s"] = 1000 / data["server_cpu_ms_per_login"]["median"]
    return per_backend


def _test_person_keys(directory: Path) -> IdentityKeys:
    """The test person's account is known by their identity code (Suomi.fi sends it): the
    first login finds it by the code and links the route, later ones by that link."""
    hetu = TEST_PERSON[1]
    key = load_or_create_keys(directory / "subject-key")[0]
    return IdentityKeys("bench-suomifi", person_hash(hetu, key), "suomifi", "personal")


def _settings(directory: Path, port: int, idp_configs: Path, backend: str) -> Path:
    """`bench.code_redemption`'s settings, in their own directory, with the SAML SP's backend."""
    directory.mkdir()
    path = write_settings(directory, port, idp_configs)
    keys = json.dumps(str(directory / "saml-keys"))
    with path.open("a") as settings:
        settings.write(f"saml_sp:\n  key_directory: {keys}\n  crypto_backend: {backend}\n")
    return path


def _idp_configs(target: Path, mock_url: str) -> Path:
    write_idp_configs(target, "http://127.0.0.1:9")  # no mock OIDC IdP: this route is SAML
    for path in target.glob("*.yaml"):
        path.write_text(path.read_text().replace(MOCK_SUOMIFI_DEFAULT_URL, mock_url))
    return target


@contextlib.contextmanager
def running_mock_suomifi(
    log_path: Path, port: int, key_dir: Path, brokers: list[str], pin: bool
) -> Iterator[int]:
    cmd = [sys.executable, "-m", "mock_idps.suomifi_idp", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--key-dir", str(key_dir), "--log-level", "WARNING"]
    for base in brokers:
        cmd += ["--sp-metadata", base + "/saml/metadata"]
    if pin:
        cmd = ["taskset", "-c", str(CLIENT_CPU), *cmd]
    with running("mock Suomi.fi", cmd, log_path, f"http://127.0.0.1:{port}/metadata") as pid:
        yield pid


def run(
    runs: int = 3, logins: int = 60, concurrency: int = 4, pin: bool | None = None
) -> dict[str, Any]:
    if runs < 1 or logins < 1 or concurrency < 1:
        raise ValueError("runs, logins and concurrency must be at least 1")
    pin = can_pin() if pin is None else pin and can_pin()
    started = time.perf_counter()
    with stoppable(), tempfile.TemporaryDirectory(prefix="sote-bench-saml-") as tmp:
        per_backend, problems = _run(Path(tmp), runs, logins, concurrency, pin)
    return {
        "benchmark": "saml_logins",
        "runs": runs,
        "logins_per_run": logins,
        "concurrency": concurrency,
        "pinned": pin,
        "placement": (
            f"brokers taskset -c {SERVER_CPU}; mock Suomi.fi taskset -c {CLIENT_CPU} and the load "
            f"generator on CPU {CLIENT_CPU}"
            if pin
            else "brokers, mock and load generator share all CPUs"
        ),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "server_log_problems": problems[:20],
        "backends": per_backend,
    }


def _run(
    directory: Path, runs: int, logins: int, concurrency: int, pin: bool
) -> tuple[dict[str, Any], list[str]]:
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    idp_configs = _idp_configs(directory / "idp_configs", mock_url)
    ports = {backend: free_port(mock_port) for backend in CRYPTO_BACKENDS}
    configs = {
        backend: _settings(directory / backend, port, idp_configs, backend)
        for backend, port in ports.items()
    }
    clients = {backend: register_client(config, "RS256") for backend, config in configs.items()}
    for backend in CRYPTO_BACKENDS:
        keys = _test_person_keys(directory / backend)
        asyncio.run(register_account(directory / backend / "broker.db", keys))
    logs = {backend: directory / f"broker-{backend}.log" for backend in CRYPTO_BACKENDS}
    mock_log = directory / "mock-suomifi.log"
    with contextlib.ExitStack() as stack:
        brokers = []
        for backend in CRYPTO_BACKENDS:
            server = stack.enter_context(
                running_server(configs[backend], logs[backend], ports[backend], pin)
            )
            brokers.append(Broker(backend, server.base, server.pid, clients[backend]))
        mock_pid = stack.enter_context(
            running_mock_suomifi(
                mock_log, mock_port, directory / "suomifi-keys", [b.base for b in brokers], pin
            )
        )
        if pin:
            os.sched_setaffinity(0, {CLIENT_CPU})
        per_backend = asyncio.run(_drive(brokers, mock_url, mock_pid, runs, logins, concurrency))
    problems = [f"{b}: {line}" for b, log in logs.items() for line in server_log_problems(log)]
    problems += ["mock: " + line for line in server_log_problems(mock_log)]
    return per_backend, problems


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Suomi.fi route, full logins (authorize -> journey -> mock Suomi.fi -> ACS -> continue "
        f"-> /token), 1 uvicorn worker per broker, {result['runs']} runs x "
        f"{result['logins_per_run']} logins, {result['concurrency']} in flight "
        f"({result['placement']})",
    ]
    for backend, r in result["backends"].items():
        lines.append(
            f"  {backend:<7} {fmt_range(r['logins_per_s'], 1)} logins/s   "
            f"p50 {fmt_range(r['p50_ms'])} ms   p95 {fmt_range(r['p95_ms'])} ms   "
            f"errors {r['errors']}"
        )
        lines.append(
            f"          broker CPU {fmt_range(r['server_cpu_ms_per_login'], 1)} ms/login "
            f"(one whole core: ~{r['server_cpu_ceiling_per_s']:,.0f}/s), broker busy "
            f"{r['server_busy_pct']['median']:.0f} %, mock Suomi.fi CPU "
            f"{r['mock_cpu_ms_per_login']['median']:.1f} ms/login, load generator "
            f"{r['loadgen_cpu_ms_per_login']['median']:.1f} ms/login, other processes "
            f"{r['others_cpu_pct']['median']:.0f} % of a core"
        )
        for run_result in r["runs"]:
            for sample in run_result["error_samples"]:
                lines.append(f"  ERROR {json.dumps(sample)}")
    if result["server_log_problems"]:
        lines.append("  log ERROR lines:")
        lines.extend(f"    {line}" for line in result["server_log_problems"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--logins", type=int, default=60, help="logins per run and backend")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-pin", dest="pin", action="store_false", default=None)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.runs, args.logins, args.concurrency, args.pin)
    show(result, report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
