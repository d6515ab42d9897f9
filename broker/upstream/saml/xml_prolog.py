"""Whether an XML document declares a DOCTYPE, read from its prolog alone: no SAML message or
metadata needs one, and with one come external entities (XXE), entity expansion and attributes
declared as IDs (signature wrapping). Checked before any parser that would act on it."""

from __future__ import annotations

from xml.parsers import expat

__all__ = ["declares_dtd"]


class _PrologEndError(Exception):
    """Stops expat where the prolog ends: at a DOCTYPE, or at the root element."""

    def __init__(self, *, doctype: bool) -> None:
        super().__init__()
        self.doctype = doctype


def _at_doctype(*_: object) -> None:
    raise _PrologEndError(doctype=True)


def _at_root(*_: object) -> None:
    raise _PrologEndError(doctype=False)


def declares_dtd(xml: bytes) -> bool:
    """Whether the document has a DOCTYPE. No SAML message needs one; with one come external
    entities (XXE), entity expansion and attributes declared as IDs (signature wrapping).
    pysaml2's defusedxml refuses entity declarations only, and hands the document as sent to
    xmlsec1. Expat reads only the prolog here: it stops at the DOCTYPE itself, before any
    declaration, or at the root element. What is not well-formed is left to the parse after."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _at_doctype
    parser.StartElementHandler = _at_root
    try:
        parser.Parse(xml, True)
    except _PrologEndError as end:
        return end.doctype
    except expat.ExpatError:
        return False
    return False
