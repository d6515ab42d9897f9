"""What the broker decrypts, and how the cleartext joins the document: the part of decryption
that is the same whichever crypto backend (`crypto`) then does the RSA and the AES.

    EncryptionPolicy        the algorithms one IdP may use (`saml.encryption_algorithms`)
    encrypted_part          the document pysaml2 hands over, its first xenc:EncryptedData checked
                            against the policy and readied to decrypt to octets
    received_response       the Response as the IdP sent it, while pysaml2 handles it
    replace_with_cleartext  the EncryptedData replaced by its cleartext

Algorithms: AES-GCM and RSA-OAEP unless the IdP's file lists more. AES-CBC and RSA 1.5 have no
integrity of their own: whoever may change the ciphertext and watch how decryption fails can
read it (padding oracles: Jager and Somorovsky 2011 for CBC, Bleichenbacher for RSA 1.5). They
are used only where listed, and even then only inside a Response whose own signature covers the
ciphertext: pysaml2 verifies a Response's signature before it decrypts anything, so a changed
ciphertext never reaches decryption. The assertion's signature, inside the ciphertext, cannot
stand in for it. Every xenc:EncryptedKey in the document is checked, as xmlsec1 may follow a
RetrievalMethod to any of them.

Cleartext: XML Encryption parses the decrypted octets in the context of the EncryptedData's
parent (XML Encryption 1.1 §4.5.3), so an assertion may use a prefix declared only on the
Response or the EncryptedAssertion. pysaml2 hands the backend its own re-serialisation of the
Response (prefixes ns0, ns1, ...), whose context is not the IdP's: the context is taken from the
Response as received (`received_response`), at the EncryptedData with the same ciphertext. The
backend decrypts to octets, never letting libxmlsec1 parse them; they are parsed here, with no
DTD, no entity and no network.

`EncryptionPolicyError` is not one of pysaml2's DecryptErrors: pysaml2 swallows those and
reports only a missing assertion. Messages name the rule, never document content.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from broker.upstream.registry import DEFAULT_ENCRYPTION, EncryptionAlgorithm
from broker.upstream.saml.pysaml2 import DecryptError
from broker.upstream.saml.signature_profile import DS, SignatureProfileError, parse

__all__ = [
    "XENC",
    "Encrypted",
    "EncryptionPolicy",
    "EncryptionPolicyError",
    "encrypted_part",
    "received_response",
    "replace_with_cleartext",
]

XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
XENC11: Final = "http://www.w3.org/2009/xmlenc11#"
SAMLP_RESPONSE: Final = "{urn:oasis:names:tc:SAML:2.0:protocol}Response"
ALGORITHMS: Final[dict[str, EncryptionAlgorithm]] = {
    XENC11 + "aes128-gcm": "aes128-gcm",
    XENC11 + "aes192-gcm": "aes192-gcm",
    XENC11 + "aes256-gcm": "aes256-gcm",
    XENC + "aes128-cbc": "aes128-cbc",
    XENC + "aes192-cbc": "aes192-cbc",
    XENC + "aes256-cbc": "aes256-cbc",
    XENC + "rsa-oaep-mgf1p": "rsa-oaep-mgf1p",
    XENC11 + "rsa-oaep": "rsa-oaep",
    XENC + "rsa-1_5": "rsa-1_5",
}
"""Algorithm URI → the name the IdP files use."""
NEEDS_SIGNED_RESPONSE: Final[frozenset[EncryptionAlgorithm]] = frozenset(
    {"aes128-cbc", "aes192-cbc", "aes256-cbc", "rsa-1_5"}
)
_KINDS: Final = frozenset({XENC + "Element", XENC + "Content"})
_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_RECEIVED: ContextVar[bytes | None] = ContextVar("saml_received_response", default=None)


class EncryptionPolicyError(Exception):
    """The EncryptedData or an EncryptedKey uses an algorithm the IdP may not use here."""


@dataclass(frozen=True)
class EncryptionPolicy:
    """The algorithms one IdP may encrypt with (its `saml.encryption_algorithms`)."""

    allowed: frozenset[EncryptionAlgorithm] = frozenset(DEFAULT_ENCRYPTION)

    def check(self, root: etree._Element, encrypted: etree._Element) -> None:
        """EncryptionPolicyError unless the EncryptedData and every EncryptedKey in the
        document use allowed algorithms, the CBC and RSA 1.5 ones only in a signed Response."""
        keys = list(root.iter(f"{{{XENC}}}EncryptedKey"))
        used = {_algorithm(element) for element in (encrypted, *keys)}
        if refused := sorted(name or "none" for name in used if name not in self.allowed):
            raise EncryptionPolicyError(f"encryption algorithm not allowed: {', '.join(refused)}")
        legacy = sorted(name for name in used if name in NEEDS_SIGNED_RESPONSE)
        if legacy and not _response_signed(root):
            raise EncryptionPolicyError(
                f"{', '.join(legacy)} only in a Response signed as a whole, and it is not"
            )


@dataclass(frozen=True)
class Encrypted:
    """The document pysaml2 handed over (`root`), its first EncryptedData (`data`, its Type
    removed, so that a backend decrypts it to octets) and what that Type was (`kind`)."""

    root: etree._Element
    data: etree._Element
    kind: str


def encrypted_part(enctext: str | bytes, policy: EncryptionPolicy) -> Encrypted:
    """The first xenc:EncryptedData in the document, as `xmlsec1 --decrypt` takes it, allowed
    by `policy`; DecryptError if there is none to decrypt as XML."""
    try:
        root = parse(enctext)
    except SignatureProfileError as exc:
        raise DecryptError(str(exc)) from exc
    data = next(root.iter(f"{{{XENC}}}EncryptedData"), None)
    if data is None:
        raise DecryptError("no xenc:EncryptedData")
    policy.check(root, data)
    kind = data.attrib.pop("Type", "")
    if kind not in _KINDS:
        raise DecryptError("EncryptedData is not of Type Element or Content")
    return Encrypted(root, data, kind)


@contextmanager
def received_response(xml: bytes) -> Iterator[None]:
    """While pysaml2 handles a Response: the document as the IdP sent it, for the namespace
    context of its EncryptedData (per thread and task: a context variable)."""
    token = _RECEIVED.set(xml)
    try:
        yield
    finally:
        _RECEIVED.reset(token)


def replace_with_cleartext(part: Encrypted, cleartext: bytes) -> str:
    """The document with `part.data` replaced by `cleartext` parsed in its parent's context
    (the cleartext's element alone if the EncryptedData was the document)."""
    wrapper = _parse_in_context(cleartext, _context_namespaces(part.data))
    elements = list(wrapper)
    if part.kind == XENC + "Element" and (
        len(elements) != 1 or (wrapper.text or "").strip() or (elements[0].tail or "").strip()
    ):
        raise DecryptError("cleartext of Type Element is not one element")
    content = escape(wrapper.text or "") + "".join(_serialised(e) for e in elements)
    parent = part.data.getparent()
    if parent is None:
        if part.kind != XENC + "Element":
            raise DecryptError("an EncryptedData of Type Content as the document")
        return content
    mark = etree.ProcessingInstruction("broker-cleartext", secrets.token_hex(16))
    mark.tail = part.data.tail
    parent.replace(part.data, mark)
    before, found, after = _serialised(part.root).partition(_serialised(mark, tail=False))
    if not found:  # not reached: the mark is where it was put
        raise DecryptError("cleartext could not be placed")
    return before + content + after


def _serialised(element: etree._Element, *, tail: bool = True) -> str:
    """`element` as text; a subelement declares every namespace in scope where it is, with its
    prefix, so that its prefixes (and a signature's exclusive c14n) stay what the IdP wrote."""
    return str(etree.tostring(element, encoding="unicode", with_tail=tail))


def _algorithm(element: etree._Element) -> EncryptionAlgorithm | None:
    method = element.find(f"{{{XENC}}}EncryptionMethod")
    return None if method is None else ALGORITHMS.get(method.get("Algorithm", ""))


def _response_signed(root: etree._Element) -> bool:
    """Whether the Response as received (or else the document handed over) carries its own
    signature: pysaml2 verified any such signature before it asked for a decryption."""
    received = _RECEIVED.get()
    if received is not None:
        try:
            root = parse(received)
        except SignatureProfileError:
            return False
    return root.tag == SAMLP_RESPONSE and root.find(f"{{{DS}}}Signature") is not None


def _context_namespaces(data: etree._Element) -> dict[str | None, str]:
    """The namespaces in scope at the EncryptedData's parent in the Response as received, if
    it holds this ciphertext (exactly once), or else in the document handed over."""
    source = _received_twin(data)
    parent = (source if source is not None else data).getparent()
    return {} if parent is None else dict(parent.nsmap)


def _received_twin(data: etree._Element) -> etree._Element | None:
    received = _RECEIVED.get()
    cipher = _cipher_value(data)
    if received is None or not cipher:
        return None
    try:
        root = parse(received)
    except SignatureProfileError:
        return None
    twins = [
        element
        for element in root.iter(f"{{{XENC}}}EncryptedData")
        if _cipher_value(element) == cipher
    ]
    if len(twins) > 1:
        raise DecryptError("the same ciphertext twice in the Response")
    return twins[0] if twins else None


def _cipher_value(data: etree._Element) -> str:
    value = data.find(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    return "" if value is None else "".join((value.text or "").split())


def _parse_in_context(cleartext: bytes, namespaces: dict[str | None, str]) -> etree._Element:
    """The cleartext inside a wrapper element that declares `namespaces`: what parsing in the
    parent's context means. A DOCTYPE cannot follow the wrapper's start tag, so none is read."""
    declarations = "".join(
        f" xmlns{'' if prefix is None else ':' + prefix}={quoteattr(uri)}"
        for prefix, uri in namespaces.items()
        if prefix != "xml"
    )
    document = f"<_{declarations}>".encode() + cleartext + b"</_>"
    try:
        return etree.fromstring(document, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise DecryptError("cleartext is not well-formed XML in its context") from exc
