"""IdP metadata as an IdP's operator publishes it, signed on its root by the `xmlsec1` program
with keys the fixtures make, and spoiled on purpose (`wrapped`, `with_doctype`, `tampered`).

The XML is text, so an attack can move a signed element anywhere and keep its signature."""

from __future__ import annotations

import datetime
import subprocess
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from cryptography.hazmat.primitives.asymmetric import ec

from mock_idps.saml_common.keys import KeyPair
from tests.certificates import self_signed, write_pair
from tests.upstream.saml.saml_forge import DS, SAMLP, TRANSIENT, instant

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
MDRPI = "urn:oasis:names:tc:SAML:metadata:rpi"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


def entity(
    entity_id: str,
    sso_url: str,
    signing: Sequence[KeyPair],
    *,
    element_id: str = "_metadata",
    valid_until: float | None = None,
    cache_duration: str | None = None,
    published: float | None = None,
) -> str:
    """An EntityDescriptor with a KeyDescriptor per signing certificate (two while the IdP rolls
    its key), a HTTP-Redirect SSO, and a place for a signature (`{signature}`); `published`
    adds an mdrpi:PublicationInfo with that creationInstant."""
    attributes = f" ID={quoteattr(element_id)} entityID={quoteattr(entity_id)}"
    if valid_until is not None:
        attributes += f' validUntil="{instant(valid_until)}"'
    if cache_duration is not None:
        attributes += f' cacheDuration="{cache_duration}"'
    keys = "".join(
        f'<md:KeyDescriptor use="signing">{key_info(k)}</md:KeyDescriptor>' for k in signing
    )
    extensions = (
        ""
        if published is None
        else f'<md:Extensions><mdrpi:PublicationInfo xmlns:mdrpi="{MDRPI}"'
        f' creationInstant="{instant(published)}" publisher="https://tunnistus.test"/>'
        f"</md:Extensions>"
    )
    return (
        f'<md:EntityDescriptor xmlns:md="{MD}"{attributes}>{{signature}}{extensions}'
        f'<md:IDPSSODescriptor WantAuthnRequestsSigned="true"'
        f' protocolSupportEnumeration="{SAMLP}">{keys}'
        f"<md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="{REDIRECT}" Location={quoteattr(sso_url)}/>'
        f"</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def unsigned(template: str) -> str:
    return template.replace("{signature}", "")


def signed(
    template: str,
    key: KeyPair,
    *,
    element_id: str = "_metadata",
    sign_alg: str = RSA_SHA256,
    digest_alg: str = SHA256,
    key_info_xml: str | None = None,
) -> str:
    """`template` with its root signed by `key` (the certificate in KeyInfo, as operators do,
    unless `key_info_xml` says otherwise)."""
    signature = (
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="{sign_alg}"/>'
        f'<ds:Reference URI="#{element_id}"><ds:Transforms>'
        f'<ds:Transform Algorithm="{DS}enveloped-signature"/>'
        f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/>'
        f"<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
        f"{key_info_xml or key_info(key)}</ds:Signature>"
    )
    return sign(template.replace("{signature}", signature), key)


def sign(xml: str, key: KeyPair) -> str:
    """xmlsec1 fills in the (first) signature template; IDs of md:EntityDescriptor and
    md:EntitiesDescriptor resolve."""
    with tempfile.TemporaryDirectory(prefix="metadata-forge-") as tmp:
        source, out = Path(tmp, "in.xml"), Path(tmp, "out.xml")
        source.write_text(xml, encoding="utf-8")
        command = [
            "xmlsec1",
            "--sign",
            "--privkey-pem",
            f"{key.key_file},{key.cert_file}",
            "--id-attr:ID",
            f"{MD}:EntityDescriptor",
            "--id-attr:ID",
            f"{MD}:EntitiesDescriptor",
            "--output",
            str(out),
            str(source),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"xmlsec1 failed: {done.stderr[-2000:]}")
        text = out.read_text(encoding="utf-8")
    return text.split("?>", 1)[1].strip() if text.startswith("<?xml") else text


def key_info(key: KeyPair) -> str:
    body = "\n".join(textwrap.wrap(key.cert_base64(), 64))
    return (
        f'<ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>{body}'
        f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
    )


def signature_of(xml: str) -> str:
    """The ds:Signature element of signed metadata, as text."""
    start = xml.index("<ds:Signature")
    end = xml.index("</ds:Signature>") + len("</ds:Signature>")
    return xml[start:end]


def ecdsa_signer(directory: Path) -> KeyPair:
    """A P-256 key and its self-signed certificate (valid from a day ago for ten years): a
    federation operator may sign its metadata with ECDSA."""
    key = ec.generate_private_key(ec.SECP256R1())
    ten_years = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3650)
    certificate = self_signed(key, "ecdsa-metadata-signer-TEST-ONLY", not_after=ten_years)
    return write_pair(directory, "ecdsa-signer", key, certificate)
