"""Which ds:Signature a SAML signature check verifies, and what that signature may say: the part
of the check that is the same whichever crypto backend (`crypto`) then does the RSA.

pysaml2 asks a backend to verify "the element of type `node_name` whose ID is `node_id`" in a
document. The `xmlsec1` program, as pysaml2 runs it (`--id-attr:ID <node_name> --node-id <id>
--enabled-reference-uris empty,same-doc --enabled-key-data raw-x509-cert`), fails when two
elements of that type share an ID, starts at the element with that ID and verifies the first
ds:Signature it meets from there. `signed_element` finds the same element and the same signature,
and refuses more: a DOCTYPE (a DTD can declare IDs and entities), the same ID on any other
element, a signature that is not the element's own enveloped one.

`check_profile` is the SAML Core §5.4 profile, and the broker's algorithms: one Reference, to
`#<node_id>`; only the enveloped-signature and exclusive c14n transforms; exclusive c14n for
SignedInfo; RSA with SHA-256 or stronger, digests SHA-256 or stronger (SHA-1 is refused; the
broker advertises only RSA-SHA256 and SHA-256 in its metadata); no ds:Object. pysaml2 checks most
of the structure too, before it calls the backend; the backend does not rely on that.

Everything here raises `SignatureProfileError` (a pysaml2 `SignatureError`, so pysaml2 treats a
refusal as it treats a failed xmlsec1 run). Messages name the rule, never document content.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from broker.upstream.saml.pysaml2 import SignatureError

__all__ = [
    "C14N_METHODS",
    "DIGEST_METHODS",
    "DS",
    "SIGNATURE_METHODS",
    "TRANSFORMS",
    "SignatureProfileError",
    "check_profile",
    "parse",
    "signed_element",
]

DS: Final = "http://www.w3.org/2000/09/xmldsig#"
XML_ID: Final = "{http://www.w3.org/XML/1998/namespace}id"
_EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_EXC_C14N_COMMENTS: Final = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
_ENVELOPED: Final = DS + "enveloped-signature"
_INCLUSIVE_NAMESPACES: Final = f"{{{_EXC_C14N}}}InclusiveNamespaces"

C14N_METHODS: Final = frozenset({_EXC_C14N, _EXC_C14N_COMMENTS})
TRANSFORMS: Final = frozenset({_ENVELOPED, _EXC_C14N, _EXC_C14N_COMMENTS})
SIGNATURE_METHODS: Final = frozenset(
    "http://www.w3.org/2001/04/xmldsig-more#rsa-" + bits for bits in ("sha256", "sha384", "sha512")
)
DIGEST_METHODS: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)

_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


class SignatureProfileError(SignatureError):  # type: ignore[misc]  # pysaml2 is untyped
    """The document or its signature breaks a rule above; the message names the rule."""


def parse(document: str | bytes) -> etree._Element:
    """The root element. A str is encoded as UTF-8 first, as pysaml2's xmlsec1 backend does
    before it writes the file for xmlsec1. No DTD is loaded, no entity resolved, nothing fetched."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SignatureProfileError("not well-formed XML") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None:  # libxml2 makes one for any DOCTYPE
        raise SignatureProfileError("a document with a DOCTYPE")
    return root


def signed_element(
    root: etree._Element, node_name: str, node_id: str | None
) -> tuple[etree._Element, etree._Element]:
    """(element, its ds:Signature): the one element of type `node_name` ("namespace:Local", as
    pysaml2 names it) whose ID is `node_id`, and the signature xmlsec1 would verify for it."""
    if not node_id:
        raise SignatureProfileError("no ID to verify")
    namespace, _, local = node_name.rpartition(":")
    of_type = list(root.iter(f"{{{namespace}}}{local}"))
    ids = [element.get("ID") for element in of_type if element.get("ID") is not None]
    if len(ids) != len(set(ids)):
        raise SignatureProfileError(f"two {local} elements with the same ID")
    holders = [element for element in root.iter() if _holds_id(element, node_id)]
    if len(holders) != 1 or holders[0].tag != f"{{{namespace}}}{local}":
        raise SignatureProfileError(f"not exactly one element with the ID, and it a {local}")
    element = holders[0]
    own = [child for child in element if child.tag == f"{{{DS}}}Signature"]
    first = next(element.iter(f"{{{DS}}}Signature"), None)
    if len(own) != 1 or first is not own[0]:
        raise SignatureProfileError(f"not one enveloped ds:Signature first in the {local}")
    return element, own[0]


def _holds_id(element: etree._Element, node_id: str) -> bool:
    """Whether any attribute that an ID lookup could find carries `node_id`: ID in any
    namespace (xmlsec1 matches it by name alone) or xml:id (libxml2 registers it on parsing)."""
    if not isinstance(element.tag, str):  # a comment or a processing instruction
        return False
    return any(
        value == node_id and (name == XML_ID or etree.QName(name).localname == "ID")
        for name, value in element.attrib.items()
    )


def check_profile(signature: etree._Element, node_id: str) -> None:
    """SAML Core §5.4 and the broker's algorithms, on the ds:Signature `signed_element` found."""
    signed_info = _only(signature, "SignedInfo")
    if signature.find(f"{{{DS}}}Object") is not None:
        raise SignatureProfileError("a ds:Object in the signature")
    _algorithm(_only(signed_info, "CanonicalizationMethod"), C14N_METHODS, "c14n method")
    _algorithm(_only(signed_info, "SignatureMethod"), SIGNATURE_METHODS, "signature method")
    reference = _only(signed_info, "Reference")
    if reference.get("URI") != f"#{node_id}":
        raise SignatureProfileError("the Reference is not to the signed element's ID")
    transforms = _only(reference, "Transforms").findall(f"{{{DS}}}Transform")
    algorithms = [transform.get("Algorithm") for transform in transforms]
    if not 1 <= len(algorithms) <= 2 or _ENVELOPED not in algorithms:
        raise SignatureProfileError("not the enveloped-signature transform (and c14n)")
    for transform in transforms:
        _algorithm(transform, TRANSFORMS, "transform")
        if any(child.tag != _INCLUSIVE_NAMESPACES for child in transform):
            raise SignatureProfileError("a transform with parameters other than a PrefixList")
    _algorithm(_only(reference, "DigestMethod"), DIGEST_METHODS, "digest method")


def _only(parent: etree._Element, local: str) -> etree._Element:
    found = parent.findall(f"{{{DS}}}{local}")
    if len(found) != 1:
        raise SignatureProfileError(f"{len(found)} ds:{local}, wanted one")
    return found[0]


def _algorithm(element: etree._Element, allowed: frozenset[str], what: str) -> None:
    if element.get("Algorithm") not in allowed:
        raise SignatureProfileError(f"{what} not allowed")
