"""What the server benchmarks share: a broker and the mock IdPs started as subprocesses on free
ports (awaited healthy, stopped however the benchmark ends), their settings and clients, CPU time
read from /proc for each side of a timed window, and error samples.

`bench/_stats.py` has the summaries of repeated runs; each benchmark module keeps only what it
drives and what it reports.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench._stats import summary

UPSTREAM_ORG = "hus"
REDIRECT_URI = "http://127.0.0.1/bench/callback"
SERVER_CPU = 0
CLIENT_CPU = 1
MAX_ERROR_SAMPLES = 5
REPO = Path(__file__).resolve().parent.parent
REPO_IDP_CONFIGS = REPO / "idp_configs"
MOCK_IDP_DEFAULT_URL = "http://127.0.0.1:8002"  # what the committed idp_configs/ point at
MOCK_IDP_SECRET = "mock-idp-secret-for-development-only"  # its default client `sote-broker`


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    alg: str

    @property
    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class Errors:
    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample: dict[str, Any]) -> None:
        self.count += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(sample)


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_cpu() -> float:
    """CPU seconds spent by everything on the machine (all cores, idle and iowait excluded)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and of its children it has waited for (the
    xmlsec1 runs of pysaml2)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICK


def descendants_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (PostgreSQL's backends)."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            total += process_cpu(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            todo.extend(int(c) for c in children)
    return total


class CPUWindow:
    """CPU seconds spent during a timed window (a `with` block): by each named process, by this
    process (the load generator), and by everything else on the machine.

        with CPUWindow({"server": lambda: process_cpu(pid)}) as window:
            await asyncio.gather(...)
        window.seconds, window.cpu["server"], window.own, window.others
    """

    def __init__(self, processes: Mapping[str, Callable[[], float]]) -> None:
        self._processes = processes
        self.seconds = 0.0
        self.cpu: dict[str, float] = {}
        self.own = 0.0
        self.others = 0.0

    def __enter__(self) -> CPUWindow:
        self.cpu = {role: read() for role, read in self._processes.items()}
        self.own, self._machine = time.process_time(), machine_cpu()
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._start
        everything = machine_cpu() - self._machine
        self.own = time.process_time() - self.own
        self.cpu = {role: read() - self.cpu[role] for role, read in self._processes.items()}
        self.others = max(0.0, everything - self.own - sum(self.cpu.values()))


def summaries(runs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Median and min-max over the runs of each figure in `keys`, and the runs' errors."""
    result: dict[str, Any] = {key: summary([r[key] for r in runs]) for key in keys}
    result["errors"] = sum(r["errors"] for r in runs)
    return result


def free_port(*taken: int) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in (8000, 8002, *taken):
            return port


def write_idp_configs(target: Path, mock_url: str) -> Path:
    """The committed idp_configs/, pointed at the mock IdP on its port with its secret inline
    (as `idp_configs_for` in tests/worlds.py does)."""
    target.mkdir()
    for path in sorted(REPO_IDP_CONFIGS.glob("*.yaml")):
        text = path.read_text().replace(MOCK_IDP_DEFAULT_URL, mock_url)
        text = re.sub(r"env: SOTE_BROKER_IDP_\w+_SECRET", f"value: {MOCK_IDP_SECRET}", text)
        (target / path.name).write_text(text)
    return target


UNLIMITED = (
    "authorize_per_ip",
    "authorize_per_client",
    "token_per_ip",
    "token_per_client",
    "saml_acs_per_ip",
    "journey_per_ip",
    "email_codes_per_address",
)
"""The rate limits the benchmarks turn off."""


def write_settings(directory: Path, port: int, idp_configs: Path) -> Path:
    path = directory / "settings.yaml"
    path.write_text(
        "\n".join(
            [
                "mode: development",
                f"issuer: http://127.0.0.1:{port}",
                "host: 127.0.0.1",
                f"port: {port}",
                "secret_file: cookie-secret",
                "subject_key_file: subject-key",
                "store:",
                "  sqlite_path: broker.db",
                "keys:",
                "  directory: keys",
                "  publish_lead_seconds: 0",
                "tokens:",
                "  code_ttl: 600",
                f"idp_configs: {json.dumps(str(idp_configs))}",
                "logging:",
                "  level: WARNING",
                # the benchmarks log in from one address far faster than people do
                "limits:",
                *(f"  {name}: null" for name in UNLIMITED),
                "",
            ]
        )
    )
    return path


def broker_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "broker", "--config", str(config), *args]


def register_client(config: Path, alg: str) -> Client:
    client = Client(f"bench-{alg.lower()}", secrets.token_urlsafe(32), alg)
    cmd = broker_cmd(
        config,
        "clients",
        "add",
        "--client-id",
        client.client_id,
        "--redirect-uri",
        REDIRECT_URI,
        "--auth-method",
        "client_secret_basic",
        "--secret-stdin",
        "--id-token-alg",
        alg,
        "--json",
    )
    done = subprocess.run(  # noqa: S603
        cmd,
        input=client.secret + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"clients add failed ({done.returncode}): {done.stderr.strip()}")
    return client


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


@contextlib.contextmanager
def running_server(config: Path, log_path: Path, port: int, pin: bool) -> Iterator[Server]:
    cmd = broker_cmd(config, "serve")
    if pin:
        cmd = ["taskset", "-c", str(SERVER_CPU), *cmd]
    base = f"http://127.0.0.1:{port}"
    with running("server", cmd, log_path, base + "/healthz") as pid:
        yield Server(base, pid)  # taskset execs the server: same pid


@contextlib.contextmanager
def running_mock_idp(log_path: Path, port: int, broker_port: int) -> Iterator[str]:
    """The mock organisation OIDC IdP (all organisations, issuers `<base>/<org>`), accepting the
    broker's callback on `broker_port` for its default client; yields its base URL. It serves
    only the first login of each client, so it is left unpinned and idle while timing."""
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "mock_idps.oidc_idp",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--redirect-uri",
        f"http://127.0.0.1:{broker_port}/upstream/oidc/callback/{{org}}",
        "--log-level",
        "WARNING",
    ]
    health = f"{base}/{UPSTREAM_ORG}/.well-known/openid-configuration"
    with running("mock IdP", cmd, log_path, health):
        yield base


@contextlib.contextmanager
def running(name: str, cmd: list[str], log_path: Path, health_url: str) -> Iterator[int]:
    """A subprocess logging to `log_path`, awaited on `health_url`, stopped on the way out
    (normally, on an exception, and on the KeyboardInterrupt that SIGINT/SIGTERM raise)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)  # noqa: S603
        try:
            wait_healthy(name, proc, health_url, log_path)
            yield proc.pid
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def wait_healthy(name: str, proc: subprocess.Popen[bytes], health_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            if httpx.get(health_url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} not healthy after 30 s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path.name})"


def server_log_problems(path: Path) -> list[str]:
    """Log lines at ERROR or above, and traceback lines; the server runs at WARNING."""
    bad = []
    for line in tail(path, 10_000).splitlines():
        if "ERROR" in line or "CRITICAL" in line or "Traceback" in line:
            bad.append(line[:300])
    return bad


def can_pin() -> bool:
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - not Linux
        return False
    return shutil.which("taskset") is not None and {SERVER_CPU, CLIENT_CPU} <= allowed
