"""The log of the whole test run, searched at its end for what must never be logged.

Every record of the run (the brokers run in this process, in threads), from DEBUG up, is written
to one file as the broker writes it in production (`broker.logs.formatter`, JSON, the libraries
quietened as `broker.logs.configure` does), failing tests included. When the run ends, the file
is searched for a test person's identity code (every one in mock_idps/), a JWS (`eyJ`), a base64
SAML message (`PHNhbWxw`, `PD94bWwg`) and a cookie value; one found fails the run. The mock IdPs'
own loggers are left out: they are the IdPs, not the broker.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from broker.logs import formatter, quiet_libraries

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
