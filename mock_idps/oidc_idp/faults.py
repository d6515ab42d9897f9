"""Test faults: make the next N token responses of one organisation wrong in one chosen way.

The broker's negative tests need an IdP that misbehaves on demand, through real HTTP, so that the
broker's own validation (not a mocked function) is what refuses the answer. Faults are off unless
the app is built with `faults_enabled=True` (CLI: `--enable-faults`); then

    POST   /_faults  {"org": "hus", "fault": "expired", "count": 1, "seconds": 30}
    GET    /_faults  -> the faults still armed
    DELETE /_faults  -> disarm all

`seconds` applies to `slow_token` only. A fault is used up by a token request that would otherwise
have succeeded (client, code, redirect_uri and PKCE all good), so a test's own bad request does not
spend it. Arming an organisation again replaces its previous fault.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any


class Fault(enum.StrEnum):
    BAD_SIGNATURE = "bad_signature"  # id_token signed by an unpublished key with the same kid
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"  # aud and azp name another client
    EXPIRED = "expired"  # exp an hour in the past (beyond any sane leeway)
    NONCE_MISMATCH = "nonce_mismatch"
    MISSING_NONCE = "missing_nonce"
    TOKEN_ERROR = "token_error"  # 400 {"error": "invalid_grant"}
    TOKEN_GARBAGE = "token_garbage"  # 200, Content-Type application/json, HTML body
    SLOW_TOKEN = "slow_token"  # the token response waits `seconds` (default 30)
    NO_ID_TOKEN = "no_id_token"


DEFAULT_SLOW_SECONDS = 30.0
_MAX_COUNT = 1000


@dataclass
class ArmedFault:
    fault: Fault
    remaining: int
    seconds: float = DEFAULT_SLOW_SECONDS


class FaultBoard:
    """The armed faults, per organisation; one process, one board (the mock is single-process)."""

    def __init__(self) -> None:
        self._armed: dict[str, ArmedFault] = {}

    def arm(self, org_id: str, armed: ArmedFault) -> None:
        self._armed[org_id] = armed

    def clear(self) -> None:
        self._armed.clear()

    def take(self, org_id: str) -> ArmedFault | None:
        """The fault for this token response, if one is armed; counts it down."""
        armed = self._armed.get(org_id)
        if armed is None:
            return None
        armed.remaining -= 1
        if armed.remaining <= 0:
            del self._armed[org_id]
        return armed

    def describe(self) -> dict[str, Any]:
        return {
            org: {"fault": a.fault.value, "remaining": a.remaining}
            for org, a in self._armed.items()
        }


class FaultRequestError(ValueError):
    """The POST /_faults body is not an armable fault."""


def parse_fault_request(body: bytes, org_ids: set[str]) -> tuple[str, ArmedFault]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FaultRequestError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise FaultRequestError("body must be a JSON object")
    org, name = data.get("org"), data.get("fault")
    count, seconds = data.get("count", 1), data.get("seconds", DEFAULT_SLOW_SECONDS)
    if org not in org_ids:
        raise FaultRequestError(f"org must be one of {sorted(org_ids)}")
    if name not in {f.value for f in Fault}:
        raise FaultRequestError(f"fault must be one of {[f.value for f in Fault]}")
    if type(count) is not int or not 1 <= count <= _MAX_COUNT:
        raise FaultRequestError(f"count must be an integer 1..{_MAX_COUNT}")
    if type(seconds) not in (int, float) or not 0 <= seconds <= 300:
        raise FaultRequestError("seconds must be a number 0..300")
    return str(org), ArmedFault(Fault(name), count, float(seconds))
