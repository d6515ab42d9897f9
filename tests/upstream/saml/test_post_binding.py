"""The ACS's first look at a SAMLResponse: size and shape only, before it is stored or parsed."""

from __future__ import annotations

import base64

import pytest

from broker.errors import UpstreamResponseError
from broker.upstream.saml.connector import MAX_RESPONSE_CHARS
from broker.upstream.saml.post_binding import check_saml_post

RESPONSE = b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'


def encoded(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


@pytest.mark.parametrize(
    "value",
    [
        encoded(RESPONSE),
        encoded(b"<?xml version='1.0' encoding='UTF-8'?>\n" + RESPONSE),
        encoded(b"\xef\xbb\xbf<!-- from the IdP -->" + RESPONSE),
        encoded(b"<Response/>"),
        "\n".join(encoded(RESPONSE * 4)[i : i + 76] for i in range(0, 400, 76)),  # wrapped
    ],
    ids=["prefixed", "declaration", "bom-comment", "default-namespace", "wrapped-lines"],
)
def test_a_saml_response_shape_passes(value: str) -> None:
    check_saml_post(value)


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        encoded(b"plain text"),
        encoded(b"<html>a Response</html>"),
        encoded(b"<samlp:AuthnRequest/>"),
        encoded(b"<a>" + b"x" * 8192 + RESPONSE),
        "A" * (MAX_RESPONSE_CHARS + 4),
    ],
    ids=["not-base64", "not-xml", "no-response", "request", "response-too-far-in", "too-large"],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(UpstreamResponseError):
        check_saml_post(value)
