"""The enveloped XML signature on the root of an IdP's SAML metadata, checked against the
certificates the operator configured (`saml.metadata_signing_certificates`).

What is accepted, and why each rule:

- exactly one `ds:Signature` as a child of the root (`md:EntityDescriptor` or
  `md:EntitiesDescriptor`), with exactly one `ds:Reference` whose URI is `#` + the root's `ID`,
  and that `ID` on no other element: a signature over another element (a signed child, an
  extension) proves nothing about the root, and a duplicated ID can make the reference resolve
  somewhere else than the root (signature wrapping);
- transforms only enveloped-signature and exclusive c14n; c14n exclusive (with or without
  comments); RSA or ECDSA with SHA-256/384/512, digests SHA-256/384/512 (no SHA-1, no XPath or
  XSLT transform);
- the key comes from a configured certificate only, never from the document's `KeyInfo`
  (xmlsec1 left to its defaults takes an `RSAKeyValue` from `KeyInfo` and verifies with it),
  and only from one within its validity period (notBefore, notAfter) by the injected clock,
  with the clock skew: an expired signing certificate no longer vouches for anything.

Which program checks the cryptography follows `sp.crypto_backend`: in process, the same
check as the responses' signatures (`crypto.verify_enveloped`, after
`signature_profile.signed_element`, ECDSA enabled too), no xmlsec1 needed; with `xmlsec1`,
`--enabled-key-data raw-x509-cert`, and `--node-xpath` pins xmlsec1 to the signature the rules
above checked.

The document must already have passed the DOCTYPE guard and been parsed (`root`). Blocking
(libxmlsec1, or xmlsec1 as a subprocess, once per usable certificate until one verifies): call
it in a thread.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Final
from xml.etree.ElementTree import Element

from cryptography import x509
from lxml import etree

from broker.errors import UpstreamUnavailableError
from broker.upstream.saml.crypto import CryptoBackendName, verify_enveloped
from broker.upstream.saml.pysaml2 import SignatureError
from broker.upstream.saml.signature_profile import parse, signed_element

__all__ = ["check_metadata_signature"]

MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
ROOTS: Final = frozenset({f"{{{MD}}}EntityDescriptor", f"{{{MD}}}EntitiesDescriptor"})
_EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_CANONICALISATIONS: Final = frozenset({_EXC_C14N, _EXC_C14N + "WithComments"})
_TRANSFORMS: Final = frozenset({DS + "enveloped-signature", *_CANONICALISATIONS})
_SIGNATURE_METHODS: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
_DIGEST_METHODS: Final = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
_ROOT_SIGNATURE_XPATH: Final = (
    f"/*/*[local-name()='Signature' and namespace-uri()='{DS}']"  # the root's own signature
)
_TIMEOUT_SECONDS: Final = 30


def check_metadata_signature(
    idp: str,
    xml: bytes,
    root: Element,
    certificates: Sequence[Path],
    *,
    now: float,
    skew: float,
    backend: CryptoBackendName,
) -> None:
    """Raise UpstreamUnavailableError unless `xml` (parsed as `root`) carries a valid enveloped
    signature on its root by one of `certificates` valid at `now` (± `skew`), checked by
    `backend`. `idp` names the IdP in the message."""
    if problem := _shape_problem(root):
        raise UpstreamUnavailableError(f"{idp}: metadata signature: {problem}")
    usable = [c for c in certificates if _within_validity(c, now, skew)]
    if not usable:
        raise UpstreamUnavailableError(
            f"{idp}: metadata signature: no configured certificate is within its validity "
            "period (expired, or not yet valid)"
        )
    if not _verified(idp, xml, usable, backend):
        raise UpstreamUnavailableError(
            f"{idp}: metadata signature: not valid by any configured certificate"
            + ("" if len(usable) == len(certificates) else " within its validity period")
        )


def _within_validity(certificate: Path, now: float, skew: float) -> bool:
    """notBefore - skew <= now <= notAfter + skew; an unreadable file counts as outside (the
    registry read each one at start-up)."""
    try:
        found = x509.load_pem_x509_certificate(certificate.read_bytes())
    except (OSError, ValueError):
        return False
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    margin = datetime.timedelta(seconds=skew)
    return found.not_valid_before_utc - margin <= moment <= found.not_valid_after_utc + margin


def _verified(
    idp: str, xml: bytes, certificates: Sequence[Path], backend: CryptoBackendName
) -> bool:
    if backend == "xmlsec":
        return _verified_in_process(xml, certificates)
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        raise UpstreamUnavailableError(f"{idp}: metadata signature: xmlsec1 is not installed")
    return any(_verifies(xmlsec, xml, certificate) for certificate in certificates)


def _verified_in_process(xml: bytes, certificates: Sequence[Path]) -> bool:
    """libxmlsec1 in process, as a response's signature is verified: the one element holding
    the root's ID, its own first ds:Signature, the key from the certificate only."""
    try:
        lxml_root = parse(xml)
        node_name = f"{MD}:{etree.QName(lxml_root).localname}"
        element, signature = signed_element(lxml_root, node_name, lxml_root.get("ID"))
    except SignatureError:
        return False
    for certificate in certificates:
        try:
            verify_enveloped(element, signature, str(certificate), ecdsa=True)
        except SignatureError:
            continue
        return True
    return False


def _shape_problem(root: Element) -> str | None:
    """What makes the root's signature unacceptable before any cryptography, or None."""
    if root.tag not in ROOTS:
        return "the root is not an EntityDescriptor or EntitiesDescriptor"
    root_id = root.get("ID")
    if not root_id:
        return "the root has no ID to sign"
    if sum(1 for element in root.iter() if element.get("ID") == root_id) != 1:
        return "the root's ID is not unique"
    signatures = root.findall(f"{{{DS}}}Signature")
    if len(signatures) != 1:
        return f"{len(signatures)} signatures on the root, wanted one" if signatures else "missing"
    return _signed_info_problem(signatures[0], root_id)


def _signed_info_problem(signature: Element, root_id: str) -> str | None:
    info = signature.find(f"{{{DS}}}SignedInfo")
    if info is None:
        return "no SignedInfo"
    if _algorithm(info, "CanonicalizationMethod") not in _CANONICALISATIONS:
        return "canonicalisation not exclusive c14n"
    if _algorithm(info, "SignatureMethod") not in _SIGNATURE_METHODS:
        return "weak or unknown signature algorithm"
    references = info.findall(f"{{{DS}}}Reference")
    if len(references) != 1:
        return f"{len(references)} references, wanted one"
    reference = references[0]
    if reference.get("URI") != f"#{root_id}":
        return "the reference is not to the root"
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{{{DS}}}Transforms/*")]
    if DS + "enveloped-signature" not in transforms or not set(transforms) <= _TRANSFORMS:
        return "transforms other than enveloped-signature and exclusive c14n"
    if _algorithm(reference, "DigestMethod") not in _DIGEST_METHODS:
        return "weak or unknown digest algorithm"
    return None


def _algorithm(parent: Element, name: str) -> str | None:
    child = parent.find(f"{{{DS}}}{name}")
    return None if child is None else child.get("Algorithm")


def _verifies(xmlsec: str, xml: bytes, certificate: Path) -> bool:
    """xmlsec1 on the document from stdin: the root's signature, the key from `certificate`."""
    command = [
        xmlsec,
        "--verify",
        "--enabled-reference-uris",
        "same-doc",
        "--enabled-key-data",
        "raw-x509-cert",
        "--pubkey-cert-pem",
        str(certificate),
        "--id-attr:ID",
        f"{MD}:EntityDescriptor",
        "--id-attr:ID",
        f"{MD}:EntitiesDescriptor",
        "--node-xpath",
        _ROOT_SIGNATURE_XPATH,
        "-",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program and options, the document on stdin
            command, input=xml, capture_output=True, timeout=_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stderr.lstrip().startswith(b"OK")
