"""Test faults: armed over `POST /_faults`, each spoils the next N successful Responses (or, for
`logout_failure`, LogoutResponses) one way.

Only with `create_app(..., faults_enabled=True)` or `--enable-faults`. An error Response (a refused
LoA) does not use up a fault; a login fault waits for a login, a logout fault for a logout. XML
signature wrapping is not here: the broker's tests build such attacks themselves from an honest
Response. A mock with several IdP entities (the organisations) keeps one `FaultBoard` per entity,
and its requests name the entity as `org`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

_MAX_COUNT = 1000


class Fault(enum.Enum):
    UNSIGNED = "unsigned"  # neither Response nor Assertion signed
    WRONG_AUDIENCE = "wrong_audience"  # Audience is another SP
    WRONG_DESTINATION = "wrong_destination"  # Destination and Recipient are another URL
    EXPIRED = "expired"  # NotOnOrAfter an hour in the past
    NOT_YET_VALID = "not_yet_valid"  # NotBefore an hour in the future
    WRONG_IN_RESPONSE_TO = "wrong_in_response_to"  # answers a request nobody sent
    WRONG_ISSUER = "wrong_issuer"  # Issuer another entity, signed with our key
    SIGNED_BY_OTHER_KEY = "signed_by_other_key"  # signed by a key in no metadata
    SIGNED_BY_RETIRED_KEY = "signed_by_retired_key"  # by the key the last rollover retired
    UNENCRYPTED = "unencrypted"  # the Assertion in clear, though encryption is on
    AUTHN_FAILED = "authn_failed"  # a signed Responder / AuthnFailed status, no Assertion
    LOGOUT_FAILURE = "logout_failure"  # a LogoutResponse with status Responder, session kept


LOGOUT_FAULTS = frozenset({Fault.LOGOUT_FAILURE})
LOGIN_FAULTS = frozenset(Fault) - LOGOUT_FAULTS


@dataclass
class ArmedFault:
    fault: Fault
    remaining: int


class FaultBoard:
    """The one armed fault (arming replaces it); the mock is a single process."""

    def __init__(self) -> None:
        self._armed: ArmedFault | None = None

    def arm(self, armed: ArmedFault) -> None:
        self._armed = armed

    def clear(self) -> None:
        self._armed = None

    def take(self, kinds: frozenset[Fault] = LOGIN_FAULTS) -> Fault | None:
        """The armed fault, if it is one of `kinds` (a login fault is not used up by a logout,
        nor a logout fault by a login)."""
        armed = self._armed
        if armed is None or armed.fault not in kinds:
            return None
        armed.remaining -= 1
        if armed.remaining <= 0:
            self._armed = None
        return armed.fault

    def describe(self) -> dict[str, Any]:
        armed = self._armed
        return {} if armed is None else {"fault": armed.fault.value, "remaining": armed.remaining}


class FaultRequestError(ValueError):
    """The POST /_faults body is not an armable fault."""


def parse_fault_request(body: bytes, org_ids: Collection[str] = ()) -> tuple[str, ArmedFault]:
    """(org, fault) from `{"fault": ..., "count": N}`; with `org_ids`, `"org"` must name one of
    them (otherwise the org is "")."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FaultRequestError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise FaultRequestError("body must be a JSON object")
    org, name, count = data.get("org", ""), data.get("fault"), data.get("count", 1)
    if org_ids and org not in org_ids:
        raise FaultRequestError(f"org must be one of {sorted(org_ids)}")
    if name not in {f.value for f in Fault}:
        raise FaultRequestError(f"fault must be one of {[f.value for f in Fault]}")
    if type(count) is not int or not 1 <= count <= _MAX_COUNT:
        raise FaultRequestError(f"count must be an integer 1..{_MAX_COUNT}")
    return str(org) if org_ids else "", ArmedFault(Fault(name), count)
