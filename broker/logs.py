"""Logging set-up: the stdlib loggers every module uses, rendered by structlog as one JSON object
(or one logfmt line) per record, with the request's context (`broker.request_context`: request
id, the login's short reference, portal, route, IdP) merged in.

What the broker logs never includes identity codes, tokens, codes, secrets, cookies or SAML
messages: callers log ids and client names only, and the scrubber here removes anything shaped
like one from every value of every record, as a second guard.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any

import structlog

_TOKEN_SHAPES = re.compile(
    r"eyJ[\w-]+(?:\.[\w-]*)*"  # JWS compact (or a lone JOSE header)
    r"|(?P<param>(?:code|token|secret|assertion|password|id_token_hint|logout_token"
    r"|SAMLResponse|SAMLRequest|RelayState)=)[^&\s\"']+"
    r"|(?P<cookie>(?:__Host-)?sote_\w+=)[^;\s\"']+"  # the broker's cookies
    r"|(?:PHNhbWxw|PD94bWwg|PHNhbWwy|PHNhbWw6)[A-Za-z0-9+/=]*"  # base64 SAML messages
    r"|\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]"  # Finnish identity code (hetu)
    r"|[A-Za-z0-9_-]{40,}"  # long random values (our codes and tokens are 43 characters)
)
QUIET_LIBRARIES = ("aiosqlite", "asyncpg", "httpx", "httpcore", "asyncio", "multipart")
"""Libraries that log request details or SQL parameters (claims, so the identity code) at DEBUG:
they stay at WARNING whatever the level."""
_EXTRA_FIELDS = ("client_id", "idp", "error_id", "request_id", "delivery_id", "path", "status")
"""`extra=` fields of the stdlib calls that go into the record as keys of their own."""


def scrub(text: str) -> str:
    return _TOKEN_SHAPES.sub(
        lambda m: (m.group("param") or m.group("cookie") or "") + "[redacted]", text
    )


class RedactingFilter(logging.Filter):
    """Scrubs the message and the traceback of a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def _scrubbed(value: Any) -> Any:
    """Text scrubbed, inside lists and mappings too; any other object by its repr, as the JSON
    renderer would write it (an `extra=` field need not be text)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub(str(k)): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrubbed(v) for v in value]
    return scrub(repr(value))


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every value scrubbed, the traceback and the context's included; empty ones dropped."""
    return {k: _scrubbed(v) for k, v in event.items() if v is not None}


def formatter(*, json_format: bool) -> logging.Formatter:
    """structlog's renderer behind the stdlib: one JSON object (or logfmt line) per record."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_format
        else structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"], drop_missing=True
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(_EXTRA_FIELDS),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )


def handler(stream: IO[str], *, json_format: bool) -> logging.Handler:
    """A handler writing the broker's log lines, scrubbed, to `stream`."""
    out = logging.StreamHandler(stream)
    out.addFilter(RedactingFilter())
    out.setFormatter(formatter(json_format=json_format))
    return out


def quiet_libraries() -> None:
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # pysaml2 logs whole responses, NameIDs and attribute values (the identity code) at INFO, and
    # a refused signature's decrypted assertion at ERROR; the SAML connector names each refusal.
    logging.getLogger("saml2").setLevel(logging.CRITICAL)


def configure(level: str, *, json_format: bool) -> None:
    root = logging.getLogger()
    root.handlers[:] = [handler(sys.stderr, json_format=json_format)]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    quiet_libraries()
