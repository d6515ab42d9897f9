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
        "\r\n ".join(encoded(RESPONSE)[i : i + 4] for i in range(0, 104, 4)),  # the tag split
    ],
    ids=[
        "prefixed",
        "declaration",
        "bom-comment",
        "default-namespace",
        "wrapped-lines",
        "short-lines",
    ],
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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("A" * (MAX_RESPONSE_CHARS + 1), "ACS: SAMLResponse too large"),
        ("not base64!", "ACS: SAMLResponse is not base64"),
        # a decoder that skipped what is not base64 would read the Response
        (encoded(RESPONSE)[:8] + "!" + encoded(RESPONSE)[8:], "ACS: SAMLResponse is not base64"),
        (encoded(RESPONSE)[:-1], "ACS: SAMLResponse is not base64"),  # cut short
        (encoded(b"junk " + RESPONSE), "ACS: SAMLResponse does not look like a samlp:Response"),
        (
            encoded(b"<html>a Response</html>"),
            "ACS: SAMLResponse does not look like a samlp:Response",
        ),
    ],
    ids=["too-large", "not-base64", "stray-character", "cut-short", "text-first", "no-response"],
)
def test_each_refusal_says_why(value: str, message: str) -> None:
    with pytest.raises(UpstreamResponseError) as error:
        check_saml_post(value)
    assert str(error.value) == message


def test_the_size_limit_counts_the_value_as_posted() -> None:
    """Line breaks count: the limit bounds what is stored, before anything is decoded."""
    value = encoded(RESPONSE)
    check_saml_post(value + "\n" * (MAX_RESPONSE_CHARS - len(value)))
    with pytest.raises(UpstreamResponseError, match="too large"):
        check_saml_post(value + "\n" * (MAX_RESPONSE_CHARS - len(value) + 1))
