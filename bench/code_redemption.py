"""Authorization-code redemptions per second on ONE uvicorn worker, through real HTTP.

What is timed is the full `/token` authorization_code grant as a portal does it: client_secret_basic
authentication, code consumption, PKCE check, access + refresh token rows written to SQLite, and
the ID token signed (RS256 or ES256 per client), serialised and sent back.

Setup (not timed): a temporary data directory and settings YAML (development mode, issuer on a
free loopback port, keys.publish_lead_seconds 0, tokens.code_ttl 600 so that minted codes outlive
the run, logging WARNING, idp_configs: a copy of the repository's idp_configs/ pointed at the mock
IdP with its secret inline), two confidential clients registered through the CLI (one per ID-token
alg), the mock organisation OIDC IdP (`python -m mock_idps.oidc_idp`) and
`python -m broker --config X serve` started as subprocesses.

Each run, per alg: phase 1 (not timed) mints `codes` codes: one real login per client through the
login journey (GET /authorize -> role, route, group and organisation pages -> the mock IdP's HUS
login form -> the broker's /upstream/oidc/callback/hus), then its SSO session cookie makes every
further GET /authorize (PKCE S256, state, nonce) answer straight away with a code in `Location`.
Phase 2 (timed) redeems them all with `concurrency` requests in flight from one asyncio httpx
client in this process. A redemption counts only if it is 200 with an id_token whose header names
the client's alg; anything else is an error and is reported with its request and response.

A correctness guard runs first (not timed): a redeemed code's ID token verifies with the broker's
keys and carries the nonce, and redeeming the same code again is 400 invalid_grant.

With --pin (default when the machine has >= 2 CPUs and `taskset` exists), the server runs under
`taskset -c 0` and this load generator is pinned to CPU 1; otherwise both share every core.

CPU time is read for both sides (the server from /proc/<pid>/stat, all threads; this process from
time.process_time), so each run also reports server CPU ms per redemption (the least noisy figure
here), how busy the server was, and how much CPU other processes on the machine used meanwhile
(/proc/stat minus both sides; the mock IdP, idle by then, is among them). A server well under
100 % busy was held back by the load generator or by other processes competing for the cores, not
by its own work.

    .venv/bin/python -m bench.code_redemption [--runs 5] [--codes 1000] [--concurrency 8]
        [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from bench._harness import (
    CLIENT_CPU,
    REDIRECT_URI,
    SERVER_CPU,
    UPSTREAM_ORG,
    Client,
    CPUWindow,
    Errors,
    Server,
    can_pin,
    free_port,
    process_cpu,
    register_client,
    running_mock_idp,
    running_server,
    server_log_problems,
    summaries,
    write_idp_configs,
    write_settings,
)
from bench._stats import fmt_range, percentile, show, stoppable
from broker.accounts.catalogue import load_catalogue
from broker.accounts.service import IdentityKeys, identity_keys
from broker.claims.identity import Identity
from broker.clock import SystemClock
from broker.frontend.oidc.keys import KeyRing
from broker.secret_files import load_or_create_keys
from broker.store.accounts import AccountRecord, AuditEntry, LinkRecord
from broker.store.sqlite import SQLiteStore

ALGS = ("RS256", "ES256")
SCOPE = "openid profile"
WARMUP_CODES = 100
# The first login's choices (idp_configs/journey.yaml) and user (mock_idps/test_users.yaml).
JOURNEY = (
    ("/login/role", "professional"),
    ("/login/route", "organisation"),
    ("/login/group", "yliopistosairaanhoitopiirit"),
    ("/login/organisation", "hus"),
)
UPSTREAM_USER = ("maija.meikalainen", "testi1234")
TEST_USERS = Path(__file__).resolve().parent.parent / "mock_idps" / "test_users.yaml"


@dataclass(frozen=True)
class Code:
    code: str
    verifier: str
    nonce: str


# -- phase 1: minting codes --------------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _authorize_params(client: Client) -> tuple[dict[str, str], str, str]:
    verifier, challenge = _pkce()
    nonce = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": secrets.token_urlsafe(16),
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return params, verifier, nonce


def _code_from(response: httpx.Response, params: dict[str, str], issuer: str) -> str:
    location = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not location.startswith(REDIRECT_URI + "?"):
        raise RuntimeError(
            f"expected a redirect to {REDIRECT_URI} with a code, got {response.status_code} "
            f"Location={location!r} body={response.text[:300]!r}"
        )
    query = parse_qs(urlsplit(location).query)
    if query.get("state") != [params["state"]] or query.get("iss") != [issuer]:
        raise RuntimeError(f"bad state or iss in {location!r}")
    code: str = query["code"][0]
    return code


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]*)"')


def _hidden(page: httpx.Response, what: str, expected: set[str]) -> dict[str, str]:
    hidden = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    if page.status_code != 200 or set(hidden) != expected:
        raise RuntimeError(
            f"GET {what}: {page.status_code}, hidden fields {sorted(hidden)} "
            f"(expected {sorted(expected)}) body={page.text[:300]!r}"
        )
    return hidden


def _redirect(response: httpx.Response, what: str, starts_with: str) -> str:
    location: str = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not location.startswith(starts_with):
        raise RuntimeError(
            f"{what}: expected a redirect to {starts_with}..., got {response.status_code} "
            f"Location={location!r} body={response.text[:300]!r}"
        )
    return location


def test_user_keys(directory: Path, mock_url: str) -> IdentityKeys:
    """The keys the broker of the settings in `directory` computes for the test user's login
    at the mock organisation IdP (its subject key file is made here if the broker has not yet
    made it)."""
    data = yaml.safe_load(TEST_USERS.read_text())
    user = next(
        u for u in data["organisations"][UPSTREAM_ORG]["users"] if u["username"] == UPSTREAM_USER[0]
    )
    identity = Identity(
        idp_id=UPSTREAM_ORG,
        issuer=f"{mock_url}/{UPSTREAM_ORG}",  # the oidc.issuer of idp_configs/hus.yaml here
        subject=user["sub"],
        route="organisation",
    )
    key = load_or_create_keys(directory / "subject-key")[0]
    return identity_keys(identity, key, link_acr=())  # no identity code: found by its link


async def register_account(db: Path, keys: IdentityKeys) -> None:
    """An account for the benchmark's person, as `Accounts.register` writes it (e-mail
    verified): the logins measured are a professional's every login but the first, which go
    straight to the portal."""
    now = time.time()
    account = AccountRecord(
        account_id="bench-" + keys.link_hash[:16],
        phone="+358500000101",
        email="bench@example.fi",
        partners=("org:hus",),
        created_at=now,
        updated_at=now,
        email_verified_at=now,
    )
    link = LinkRecord(keys.link_hash, account.account_id, keys.idp_id, keys.route, now)
    entry = AuditEntry(
        account.account_id, now, "registered", "self", keys.route, {"idp": keys.idp_id}
    )
    store = SQLiteStore(db)
    await store.open()
    try:
        await load_catalogue(store.accounts, now)  # as a first start seeds it, for the partner
        await store.accounts.register_account(account, link, keys.person_hash, entry)
    finally:
        await store.close()


async def first_login(http: httpx.AsyncClient, client: Client, issuer: str, idp_url: str) -> Code:
    """The first login of a browser, through the real login journey and the mock IdP:
    afterwards `http` holds the broker's SSO session cookie."""
    params, verifier, nonce = _authorize_params(client)
    response = await http.get("/authorize", params=params)
    _redirect(response, "GET /authorize", JOURNEY[0][0])
    for i, (path, choice) in enumerate(JOURNEY):
        hidden = _hidden(await http.get(path), path, {"csrf_token", "tx"})
        response = await http.post(path, data={**hidden, "choice": choice})
        last = i == len(JOURNEY) - 1
        upstream = f"{idp_url}/{UPSTREAM_ORG}/authorize?"
        location = _redirect(response, f"POST {path}", upstream if last else JOURNEY[i + 1][0])
    page = await http.get(location)
    hidden = _hidden(page, "the mock IdP's login form", {"request", "csrf_token"})
    action = _FORM_ACTION.search(page.text)
    if action is None:
        raise RuntimeError(f"no login form at the mock IdP: {page.text[:300]!r}")
    target = str(page.url.join(html.unescape(action.group(1))))
    username, password = UPSTREAM_USER
    response = await http.post(target, data={**hidden, "username": username, "password": password})
    callback = _redirect(response, "POST the mock IdP's login form", issuer + "/upstream/oidc/")
    done = await http.get(callback)
    return Code(_code_from(done, params, issuer), verifier, nonce)


async def mint(
    http: httpx.AsyncClient, client: Client, issuer: str, count: int, concurrency: int
) -> tuple[list[Code], float]:
    """`count` codes from the SSO session; returns them and codes minted per second."""
    codes: list[Code] = []

    async def worker() -> None:
        while len(codes) < count:
            params, verifier, nonce = _authorize_params(client)
            response = await http.get("/authorize", params=params)
            codes.append(Code(_code_from(response, params, issuer), verifier, nonce))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return codes[:count], len(codes) / elapsed


# -- phase 2: redeeming ------------------------------------------------------------------------


def _token_form(code: Code) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": code.verifier,
    }


def _jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".", 1)[0]
    parsed: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return parsed


def _describe(
    code: Code, response: httpx.Response | None, exc: BaseException | None
) -> dict[str, Any]:
    """An error sample: the request (code and verifier shortened) and what came back."""
    sample: dict[str, Any] = {
        "request": f"POST /token grant_type=authorization_code code={code.code[:8]}... "
        f"redirect_uri={REDIRECT_URI} code_verifier={code.verifier[:8]}... "
        "(client_secret_basic)"
    }
    if response is not None:
        sample["status"] = response.status_code
        sample["body"] = response.text[:500]
    if exc is not None:
        sample["exception"] = f"{type(exc).__name__}: {exc}"
    return sample


async def redeem(
    http: httpx.AsyncClient,
    client: Client,
    codes: list[Code],
    concurrency: int,
    server_pid: int | None = None,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = Errors()
    pending = iter(codes)
    headers = {"Authorization": client.basic}

    async def worker() -> None:
        for code in pending:
            t0 = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = await http.post("/token", data=_token_form(code), headers=headers)
                latencies.append(time.perf_counter() - t0)
                body = response.json() if response.status_code == 200 else {}
                id_token = body.get("id_token")
                if not isinstance(id_token, str) or _jwt_header(id_token).get("alg") != client.alg:
                    errors.add(_describe(code, response, None))
            except (httpx.HTTPError, ValueError) as exc:
                errors.add(_describe(code, response, exc))

    pid = server_pid
    with CPUWindow({"server": lambda: process_cpu(pid)} if pid else {}) as window:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = window.seconds
    server_cpu = window.cpu.get("server", float("nan"))
    latencies.sort()
    return {
        "requests": len(codes),
        "ok": len(codes) - errors.count,
        "errors": errors.count,
        "error_samples": errors.samples,
        "seconds": elapsed,
        "redemptions_per_s": (len(codes) - errors.count) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "server_cpu_ms_per_request": server_cpu * 1000 / len(codes),
        "server_busy_pct": server_cpu / elapsed * 100,
        "loadgen_cpu_ms_per_request": window.own * 1000 / len(codes),
        "others_cpu_pct": window.others / elapsed * 100,
    }


async def sanity_check(
    session: httpx.AsyncClient,
    tokens: httpx.AsyncClient,
    client: Client,
    issuer: str,
    keys: KeyRing,
) -> dict[str, Any]:
    """Not timed: the ID token verifies and binds the nonce; a second redemption is refused."""
    (code,), _ = await mint(session, client, issuer, 1, 1)
    headers = {"Authorization": client.basic}
    first = await tokens.post("/token", data=_token_form(code), headers=headers)
    if first.status_code != 200:
        raise RuntimeError(f"sanity: first redemption {first.status_code}: {first.text[:500]}")
    keys.reload_if_changed()
    header, claims = keys.verify_jwt(first.json()["id_token"], [client.alg])
    problems = []
    if header.get("alg") != client.alg:
        problems.append(f"id_token alg {header.get('alg')} != {client.alg}")
    if claims.get("nonce") != code.nonce:
        problems.append("id_token nonce does not match the request")
    if claims.get("aud") != client.client_id or claims.get("iss") != issuer:
        problems.append(f"id_token aud/iss wrong: {claims.get('aud')} {claims.get('iss')}")
    second = await tokens.post("/token", data=_token_form(code), headers=headers)
    error = (
        second.json().get("error")
        if second.headers.get("content-type", "").startswith("application/json")
        else None
    )
    if second.status_code != 400 or error != "invalid_grant":
        problems.append(
            f"second redemption of one code: expected 400 invalid_grant, got "
            f"{second.status_code} {second.text[:300]!r}"
        )
    return {
        "ok": not problems,
        "problems": problems,
        "second_redemption": {"status": second.status_code, "error": error},
    }


# -- the benchmark -----------------------------------------------------------------------------


async def _drive(
    server: Server,
    idp_url: str,
    clients: list[Client],
    keys: KeyRing,
    runs: int,
    count: int,
    concurrency: int,
) -> dict[str, Any]:
    base = server.base
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    per_alg: dict[str, dict[str, Any]] = {c.alg: {"runs": []} for c in clients}
    async with contextlib.AsyncExitStack() as stack:
        tokens = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0)
        )
        sessions: dict[str, httpx.AsyncClient] = {}
        for client in clients:
            sessions[client.alg] = await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0)
            )
            await first_login(sessions[client.alg], client, base, idp_url)
            per_alg[client.alg]["sanity"] = await sanity_check(
                sessions[client.alg], tokens, client, base, keys
            )
            warm, _ = await mint(sessions[client.alg], client, base, WARMUP_CODES, concurrency)
            await redeem(tokens, client, warm, concurrency)
        for _ in range(runs):
            for client in clients:  # interleaved so that a noisy moment hits both algs
                codes, mint_rate = await mint(
                    sessions[client.alg], client, base, count, concurrency
                )
                result = await redeem(tokens, client, codes, concurrency, server.pid)
                result["mint_per_s"] = mint_rate
                per_alg[client.alg]["runs"].append(result)
    for data in per_alg.values():
        data |= summaries(
            data["runs"],
            (
                "redemptions_per_s",
                "p50_ms",
                "p95_ms",
                "mint_per_s",
                "server_cpu_ms_per_request",
                "server_busy_pct",
                "loadgen_cpu_ms_per_request",
                "others_cpu_pct",
            ),
        )
        data["server_cpu_ceiling_per_s"] = 1000 / data["server_cpu_ms_per_request"]["median"]
    return per_alg


def run(
    runs: int = 5,
    count: int = 1000,
    concurrency: int = 8,
    pin: bool | None = None,
) -> dict[str, Any]:
    if runs < 1 or count < 1 or concurrency < 1:
        raise ValueError("runs, codes and concurrency must be at least 1")
    pin = can_pin() if pin is None else pin and can_pin()
    started = time.perf_counter()
    affinity = os.sched_getaffinity(0)
    with stoppable():
        return _run(runs, count, concurrency, pin, started, affinity)


def _run(
    runs: int,
    count: int,
    concurrency: int,
    pin: bool,
    started: float,
    affinity: set[int],
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sote-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        idp_port = free_port(port)
        idp_configs = write_idp_configs(directory / "idp_configs", f"http://127.0.0.1:{idp_port}")
        config = write_settings(directory, port, idp_configs)
        clients = [register_client(config, alg) for alg in ALGS]
        person = test_user_keys(directory, f"http://127.0.0.1:{idp_port}")
        asyncio.run(register_account(directory / "broker.db", person))
        log_path = directory / "server.log"
        idp_log_path = directory / "mock-idp.log"
        try:
            with (
                running_mock_idp(idp_log_path, idp_port, port) as idp_url,
                running_server(config, log_path, port, pin) as server,
            ):
                if pin:
                    os.sched_setaffinity(0, {CLIENT_CPU})
                keys = KeyRing(directory / "keys", SystemClock())
                keys.load()
                per_alg = asyncio.run(
                    _drive(server, idp_url, clients, keys, runs, count, concurrency)
                )
        finally:
            os.sched_setaffinity(0, affinity)
        problems = server_log_problems(log_path) + [
            "mock IdP: " + line for line in server_log_problems(idp_log_path)
        ]
    return {
        "benchmark": "code_redemption",
        "runs": runs,
        "codes_per_run": count,
        "concurrency": concurrency,
        "pinned": pin,
        "placement": (
            f"server taskset -c {SERVER_CPU}, load generator pinned to CPU {CLIENT_CPU}"
            if pin
            else "server and load generator share all CPUs"
        ),
        "server": "1 uvicorn worker (asyncio loop, h11), SQLite store, logging WARNING",
        "loadgen": "httpx.AsyncClient in the benchmark process",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "server_log_problems": problems[:20],
        "algs": per_alg,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"/token authorization_code redemptions, 1 uvicorn worker, {result['runs']} runs x "
        f"{result['codes_per_run']} codes, {result['concurrency']} in flight from one asyncio "
        f"httpx client in the benchmark process ({result['placement']})",
    ]
    for alg, r in result["algs"].items():
        lines.append(
            f"  {alg}  {fmt_range(r['redemptions_per_s'])} redemptions/s   "
            f"p50 {fmt_range(r['p50_ms'], 1)} ms   p95 {fmt_range(r['p95_ms'], 1)} ms   "
            f"errors {r['errors']}"
        )
        lines.append(
            f"         server CPU {fmt_range(r['server_cpu_ms_per_request'], 2)} ms/redemption "
            f"(one whole core: ~{r['server_cpu_ceiling_per_s']:,.0f}/s), "
            f"server busy {r['server_busy_pct']['median']:.0f} %, load generator CPU "
            f"{r['loadgen_cpu_ms_per_request']['median']:.2f} ms/request, other processes "
            f"{r['others_cpu_pct']['median']:.0f} % of a core"
        )
        lines.append(
            f"         (untimed minting via SSO /authorize: "
            f"{r['mint_per_s']['median']:,.0f} codes/s)"
        )
    for alg, r in result["algs"].items():
        sanity = r["sanity"]
        verdict = "ok" if sanity["ok"] else "FAILED: " + "; ".join(sanity["problems"])
        second = sanity["second_redemption"]
        lines.append(
            f"  sanity {alg}: id_token verifies with nonce; second redemption -> "
            f"{second['status']} {second['error']}: {verdict}"
        )
        for run_result in r["runs"]:
            for sample in run_result["error_samples"]:
                lines.append(f"  ERROR {alg}: {json.dumps(sample)}")
    if result["server_log_problems"]:
        lines.append("  server log ERROR lines:")
        lines.extend(f"    {line}" for line in result["server_log_problems"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--codes", type=int, default=1000, help="codes redeemed per run and alg")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-pin", dest="pin", action="store_false", default=None)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.runs, args.codes, args.concurrency, args.pin)
    show(result, report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
