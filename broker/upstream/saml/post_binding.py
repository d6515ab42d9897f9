"""The size and shape of the SAMLResponse an ACS POST carries, checked before the broker stores
it in the login transaction or any parser reads it: base64 (IdPs may wrap its lines), at most
MAX_RESPONSE_CHARS (so at most 3/4 of that decoded), and XML with a samlp:Response near its
start. The full checks come later (`connector`); this keeps garbage out of the store and the
parsers."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from broker.errors import UpstreamResponseError
from broker.upstream.saml.connector import MAX_RESPONSE_CHARS

__all__ = ["check_saml_post"]

_XML_START: Final = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<")
_RESPONSE_TAG: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,64}:)?Response[\s>/]")
_PROLOG_BYTES: Final = 4096
"""The root element is looked for this far in (past the XML declaration, comments or a
DOCTYPE, which the connector refuses with its own check)."""


def check_saml_post(saml_response: str) -> None:
    """UpstreamResponseError unless `saml_response` is a base64 samlp:Response of a sane size."""
    if len(saml_response) > MAX_RESPONSE_CHARS:
        raise UpstreamResponseError("ACS: SAMLResponse too large")
    try:
        xml = base64.b64decode("".join(saml_response.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamResponseError("ACS: SAMLResponse is not base64") from exc
    head = xml[:_PROLOG_BYTES]
    if not (_XML_START.match(head) and _RESPONSE_TAG.search(head)):
        raise UpstreamResponseError("ACS: SAMLResponse does not look like a samlp:Response")
