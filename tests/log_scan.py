"""The log of the whole test run, searched at its end for what must never be logged.

Every record of the run (the brokers run in this process, in threads), from DEBUG up, is written
to one file as the broker writes it in production (`broker.logs.formatter`, JSON, the libraries
quietened as `broker.logs.configure` does), failing tests included. When the run ends, the file
is searched for a test person's identity code (every one in mock_idps/), a JWS (`eyJ`), a base64
SAML message (`PHNhbWxw`, `PD94bWwg`) and a cookie value; one found fails the run. The mock IdPs'
own loggers are left out: they are the IdPs, not the broker.

Under pytest-xdist (`make test` runs two workers) each worker logs to a file of its own and scans
it; a worker's exit status counts for nothing, so it hands what it found to the controller in
`workeroutput`, and the controller fails the run. The hooks below are a plugin
(`pytest_plugins` in tests/conftest.py).
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from broker.logs import formatter, quiet_libraries

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

MOCK_IDPS = Path(__file__).parents[1] / "mock_idps"
PERSON_FILES = ("suomifi_persons.yaml", "test_users.yaml", "org_saml_users.yaml")
_HETU = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]")
_OTHER_LOGGERS = ("mock_idps", "tests", "uvicorn.access")
"""The mock IdPs and the tests themselves; uvicorn's access log is off in the broker
(`broker.logs.configure`), which logs its own without the query."""


def identity_codes() -> set[str]:
    """Every identity code of the mock IdPs' test people."""
    return {code for name in PERSON_FILES for code in _HETU.findall((MOCK_IDPS / name).read_text())}


def leak_shapes() -> dict[str, re.Pattern[str]]:
    codes = "|".join(re.escape(code) for code in sorted(identity_codes()))
    return {
        "a test person's identity code": re.compile(codes),
        "a JWS (eyJ…)": re.compile("eyJ"),
        "a base64 SAML message": re.compile("PHNhbWxw|PD94bWwg"),
        "a broker cookie": re.compile(r"sote_\w+=(?!\[redacted\])"),
        "a signed cookie value": re.compile(r"[\w-]{20,}\.[\w-]{27}(?![\w-])"),
    }


def find_leaks(text: str) -> list[str]:
    """Where each leak is (line and shape; never the value itself)."""
    shapes = leak_shapes()
    return [
        f"line {number}: {what}"
        for number, line in enumerate(text.splitlines(), 1)
        for what, shape in shapes.items()
        if shape.search(line)
    ]


class _BrokerOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_OTHER_LOGGERS)


@dataclass
class RunLog:
    path: Path
    _handler: logging.Handler | None = None
    _level: int = logging.WARNING

    def start(self) -> None:
        self._handler = logging.FileHandler(self.path, encoding="utf-8")
        self._handler.setFormatter(formatter(json_format=True))
        self._handler.addFilter(_BrokerOnly())
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self._handler)
        root.setLevel(logging.DEBUG)
        quiet_libraries()

    def stop(self) -> list[str]:
        """The leaks found in the run's log."""
        if self._handler is None:
            return []
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._level)
        self._handler.close()
        return find_leaks(self.path.read_text(encoding="utf-8"))


_RUN_LOG = pytest.StashKey[RunLog]()
_LEAKS = pytest.StashKey[dict[str, list[str]]]()  # run log -> its leaks (the workers' too)
_WORKER_OUTPUT = "sote_broker_log_leaks"


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run's log (each xdist worker's own), at DEBUG, as the broker writes it."""
    _, path = tempfile.mkstemp(prefix="sote-broker-test-run-", suffix=".log")
    session.config.stash[_RUN_LOG] = run_log = RunLog(Path(path))
    session.config.stash.setdefault(_LEAKS, {})
    run_log.start()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: WorkerController, error: object | None) -> None:
    """xdist's controller: keeps a finished worker's leaks, to fail the run at its end."""
    found = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT, {})
    node.config.stash.setdefault(_LEAKS, {}).update(found)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fails the run if a log holds an identity code, a JWS, a SAML message or a cookie."""
    leaks = session.config.stash.setdefault(_LEAKS, {})
    run_log = session.config.stash.get(_RUN_LOG, None)
    if run_log is not None and (found := run_log.stop()):
        leaks[str(run_log.path)] = found
    elif run_log is not None:
        run_log.path.unlink()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller fails the run
        workeroutput[_WORKER_OUTPUT] = leaks
    elif leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        _report(session.config, leaks)


def _report(config: pytest.Config, leaks: dict[str, list[str]]) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for path, found in leaks.items():
        reporter.write_line(f"FAILED: the run's log {path} holds what is never logged:")
        for leak in found[:20]:
            reporter.write_line(f"  {leak}")
