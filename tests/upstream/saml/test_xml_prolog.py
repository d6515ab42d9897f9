"""`declares_dtd`: a DOCTYPE is found in the prolog, wherever in it, and nothing else counts as
one; expat stops at the DOCTYPE or at the root element, so what follows is never read here."""

from __future__ import annotations

import pytest

from broker.upstream.saml.xml_prolog import declares_dtd

ROOT = b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'


@pytest.mark.parametrize(
    "xml",
    [
        b"<!DOCTYPE samlp:Response>" + ROOT,
        b"<?xml version='1.0'?>\n<!-- c --><?pi x?>\n<!DOCTYPE r [<!ENTITY e 'v'>]>" + ROOT,
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/never-fetched.dtd">' + ROOT,
        b"<!DOCTYPE r [<!ENTITY e 'v'>]>",  # no root at all
        b"<!DOCTYPE r [<!ENTITY e 'v'>]><r>&undeclared;",  # not well-formed after the DOCTYPE
    ],
    ids=["plain", "after-prolog", "external", "no-root", "broken-after"],
)
def test_a_doctype_anywhere_in_the_prolog_is_found(xml: bytes) -> None:
    assert declares_dtd(xml) is True


@pytest.mark.parametrize(
    "xml",
    [
        ROOT,
        b"<?xml version='1.0' encoding='UTF-8'?>\n<!-- <!DOCTYPE in a comment> -->" + ROOT,
        ROOT[:-2] + b"><x>&lt;!DOCTYPE x&gt;</x><![CDATA[<!DOCTYPE y>]]></samlp:Response>",
        b"<r>" + b"<!DOCTYPE late>",  # past the root: not a prolog, and not read
        b"",
        b"not xml",
        b"<?xml version='1.0'?><!-- unterminated",
    ],
    ids=["none", "in-comment", "in-content", "after-root", "empty", "not-xml", "unterminated"],
)
def test_nothing_else_is_a_doctype(xml: bytes) -> None:
    assert declares_dtd(xml) is False
