"""What the current request is about, for its log lines and audit records: the request id, and
once a login transaction is found, the login's short reference, its portal, route and IdP.

Kept in structlog's context variables, so every log line of the request carries them (the stdlib
loggers too: `broker.logs` merges them into each record) and the error mapping can record them.
Each request runs in a context of its own (`bound_request`).

The login transaction id is a bearer value (with the signed cookie it continues a login), so
neither logs nor records hold it: only `login_ref`, the first 8 hex digits of its SHA-256, enough
to find one login's lines among a day's and useless for continuing it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

__all__ = ["RequestContext", "bind_login", "bound_request", "current", "login_ref"]


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    login_ref: str | None = None
    client_id: str | None = None
    route: str | None = None
    idp: str | None = None


def login_ref(tx_id: str) -> str:
    return hashlib.sha256(tx_id.encode()).hexdigest()[:8]


@contextlib.contextmanager
def bound_request(request_id: str) -> Iterator[None]:
    """The request's context, empty but for its id; what was bound before is back afterwards
    (an in-process ASGI client runs the app in its caller's context)."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


def bind_login(tx_id: str, client_id: str, route: str | None, idp: str | None) -> None:
    """The login transaction this request continues (a login to the account pages has no
    portal: client_id "")."""
    values = {"login_ref": login_ref(tx_id), "client_id": client_id or None, "route": route}
    values["idp"] = idp
    structlog.contextvars.unbind_contextvars(*(k for k, v in values.items() if v is None))
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def current() -> RequestContext:
    bound = structlog.contextvars.get_contextvars()
    return RequestContext(**{name: bound.get(name) for name in RequestContext.__dataclass_fields__})
