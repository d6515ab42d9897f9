"""The broker's log lines: structured, with the request's context, and scrubbed of identity
codes, tokens, SAML messages and cookies whatever the logging call passed them in."""

from __future__ import annotations

import base64
import hashlib
import json
import logging

from itsdangerous import Signer

from broker.logs import formatter
from broker.request_context import bind_login, bound_request
from tests.log_scan import find_leaks

HETU = "010280-952L"
JWS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
SAML = base64.b64encode(b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">')
XML = base64.b64encode(b'<?xml version="1.0"?><samlp:Response/>')
TX_ID = "k" * 43
COOKIE = "sote_tx_insecure_dev=" + Signer(b"key", salt="sote-broker.tx").sign(TX_ID).decode()


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("broker.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def formatted(made: logging.LogRecord) -> dict[str, object]:
    line = formatter(json_format=True).format(made)
    assert "\n" not in line  # one JSON object per line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_identity_codes_tokens_saml_messages_and_cookies_are_scrubbed_everywhere() -> None:
    try:
        raise ValueError(f"refused {HETU} in {SAML.decode()}")
    except ValueError as exc:
        failing = exc
    made = record(
        "person %s token %s SAMLResponse=%s cookie %s xml %s",
        HETU,
        JWS,
        SAML.decode(),
        COOKIE,
        XML.decode(),
        path=f"/x/{HETU}",
    )
    made.exc_info = (ValueError, failing, failing.__traceback__)
    line = json.dumps(formatted(made))
    assert find_leaks(line) == []
    assert HETU not in line and "eyJ" not in line
    assert "[redacted]" in line and "ValueError: refused" in line
    for plain in ("010190A123F", "311299+999Y", "010101U1234"):  # every century sign
        assert plain not in json.dumps(formatted(record("%s", plain)))


class _Shown:
    """An object whose text holds an identity code (a renderer writes its repr)."""

    def __repr__(self) -> str:
        return f"Shown({HETU})"


def test_values_inside_lists_mappings_and_objects_are_scrubbed_too() -> None:
    """An `extra=` field is not always text: a list, a mapping or an object holding an identity
    code or a token is scrubbed as well, and keeps its shape."""
    made = record(
        "seen",
        path=[f"/x/{HETU}", 3, None, (JWS,)],
        status={"person": HETU, HETU: True, "n": 1},
        idp=_Shown(),
    )
    line = formatted(made)
    assert find_leaks(json.dumps(line)) == []
    assert line["path"] == ["/x/[redacted]", 3, None, ["[redacted]"]]
    assert line["status"] == {"person": "[redacted]", "[redacted]": True, "n": 1}
    assert line["idp"] == "Shown([redacted])"


def test_each_line_carries_the_request_id_and_the_logins_short_reference() -> None:
    with bound_request("r1d2"):
        bind_login(TX_ID, "portal", "organisation", "hus")
        fields = formatted(record("upstream login started", idp="hus"))
    assert fields["request_id"] == "r1d2"
    assert fields["login_ref"] == hashlib.sha256(TX_ID.encode()).hexdigest()[:8]
    assert (fields["client_id"], fields["route"], fields["idp"]) == (
        "portal",
        "organisation",
        "hus",
    )
    assert (fields["level"], fields["logger"]) == ("info", "broker.test")
    assert TX_ID not in json.dumps(fields)
    after = formatted(record("after the request"))
    assert "request_id" not in after and "login_ref" not in after


def test_the_run_log_scan_finds_each_thing_never_logged() -> None:
    planted = [f"a {HETU}", "h eyJhbGciOi", f"s {SAML.decode()}", f"x {XML.decode()}", COOKIE]
    assert len(find_leaks("\n".join(planted))) == len(planted) + 1  # the cookie twice: name, value
    assert find_leaks('{"event": "GET /login/role 200 1.0 ms", "request_id": "ab12"}') == []
