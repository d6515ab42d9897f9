"""Logging set-up. What the broker logs never includes tokens, codes, secrets or cookies: callers
log ids and client names only, and this filter scrubs anything token-shaped as a second guard."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

_TOKEN_SHAPES = re.compile(
    r"(eyJ[\w-]*\.[\w-]*\.[\w-]*)"  # JWS compact
    r"|((?:code|token|secret|assertion|password|id_token_hint|logout_token)=)[^&\s\"']+"
    r"|([A-Za-z0-9_-]{40,})"  # long random values (our codes and tokens are 43 characters)
)
QUIET_LIBRARIES = ("aiosqlite", "httpx", "httpcore", "asyncio", "multipart")
"""Libraries that log request details or SQL parameters (claims, so the identity code) at DEBUG:
they stay at WARNING whatever the level."""
_EXTRA_FIELDS = ("client_id", "idp", "error_id", "request_id", "delivery_id", "path", "status")


def _scrub(text: str) -> str:
    return _TOKEN_SHAPES.sub(lambda m: (m.group(2) or "") + "[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = _scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub(record.exc_text)
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = " ".join(
            f"{name}={getattr(record, name)}" for name in _EXTRA_FIELDS if hasattr(record, name)
        )
        return f"{base} {extras}" if extras else base


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({n: getattr(record, n) for n in _EXTRA_FIELDS if hasattr(record, n)})
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def configure(level: str, *, json_format: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JSONFormatter()
        if json_format
        else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # pysaml2 logs whole responses, NameIDs and attribute values (the identity code) at INFO, and
    # a refused signature's decrypted assertion at ERROR; the SAML connector names each refusal.
    logging.getLogger("saml2").setLevel(logging.CRITICAL)
