"""A test-side SAML IdP that forges Responses as Suomi.fi makes them: the assertion signed, then
encrypted for the SP, then the Response signed (RSA-SHA256, exclusive c14n, AES-256-GCM with
RSA-OAEP, or AES-CBC and RSA 1.5 where a test asks). `saml_attacks.py` builds the attacks from
these parts.

Everything is real XML signed by the `xmlsec1` program with keys the fixtures make. The XML is
written as text, so that an attack can put any element anywhere and splice signed bytes as they
are: a moved assertion keeps the signature xmlsec1 made. An attacker holds the SP's public
certificate (it is in the SP metadata), so the forge encrypts whatever an attack needs.
`Statement` holds every value an attack may spoil; `dataclasses.replace` makes the spoiled copy."""

from __future__ import annotations

import base64
import re
import secrets
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from mock_idps.saml_common.keys import KeyPair, load_or_create_pair

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
HETU = "urn:oid:1.2.246.21"
GIVEN_NAME = "urn:oid:2.5.4.42"
LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
CARD = "urn:oid:1.2.246.517.3002.110.2"
TESSA = "010280-952L"  # who logged in
AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
AES128_CBC = f"{XENC}aes128-cbc"
AES256_CBC = f"{XENC}aes256-cbc"
RSA_OAEP_MGF1P = f"{XENC}rsa-oaep-mgf1p"
RSA_1_5 = f"{XENC}rsa-1_5"

Build = Callable[["Forge", "Statement"], str]
"""An attack (or a genuine answer): the Response XML for what the IdP would have said."""

_DECLARATION_RE = re.compile(r"^<\?xml[^>]*\?>\s*")


def new_id() -> str:
    return "_" + secrets.token_hex(20)


def instant(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class Statement:
    """What the forged IdP asserts. `in_response_to` None makes an unsolicited Response; the
    SubjectConfirmationData names the same request unless `confirmation_in_response_to` says
    otherwise. Times are epochs; None means the usual: valid from `now` for five minutes."""

    issuer: str
    audience: str
    destination: str
    in_response_to: str | None
    now: float = field(default_factory=time.time)
    recipient: str | None = None  # None: the Destination
    confirmation_in_response_to: str | None = "same"
    not_before: float | None = None
    not_on_or_after: float | None = None
    confirmation_not_on_or_after: float | None = None  # None: the Conditions' NotOnOrAfter
    name_id: str = field(default_factory=new_id)
    attributes: Mapping[str, str] = field(
        default_factory=lambda: {HETU: TESSA, GIVEN_NAME: "Tessa"}
    )
    class_ref: str = LOA3
    assertion_id: str = field(default_factory=new_id)
    response_id: str = field(default_factory=new_id)

    @property
    def window(self) -> tuple[str, str]:
        start = self.now if self.not_before is None else self.not_before
        end = self.now + 300 if self.not_on_or_after is None else self.not_on_or_after
        return instant(start), instant(end)

    @property
    def confirmation_deadline(self) -> str:
        if self.confirmation_not_on_or_after is None:
            return self.window[1]
        return instant(self.confirmation_not_on_or_after)

    @property
    def confirmed_request(self) -> str | None:
        if self.confirmation_in_response_to == "same":
            return self.in_response_to
        return self.confirmation_in_response_to


class Forge:
    """Signs with `key` (the IdP's, as its metadata publishes it) and encrypts for `sp_cert`;
    `impostor` is a key pair in no metadata."""

    def __init__(
        self, key: KeyPair, sp_cert: Path, impostor: KeyPair, xmlsec: str = "xmlsec1"
    ) -> None:
        self.key = key
        self.sp_cert = sp_cert
        self.impostor = impostor
        self.xmlsec = xmlsec

    @classmethod
    def with_keys_in(cls, directory: Path, sp_cert: Path) -> Forge:
        """A forged IdP whose key and impostor key are made (once) in `directory`."""
        return cls(
            load_or_create_pair(directory, "forged-idp-TEST-ONLY"),
            sp_cert,
            impostor=load_or_create_pair(directory, "impostor-TEST-ONLY"),
        )

    def genuine(self, s: Statement) -> str:
        """What Suomi.fi sends: the assertion signed and encrypted, the Response signed."""
        return self.response(s, self.encrypted(self.assertion(s)))

    def assertion(self, s: Statement, *, signed: bool = True, key: KeyPair | None = None) -> str:
        """One self-contained saml:Assertion (every namespace it uses declared on it)."""
        before, after = s.window
        confirmed = s.confirmed_request
        irt = f" InResponseTo={quoteattr(confirmed)}" if confirmed else ""
        xml = (
            f'<saml:Assertion xmlns:saml="{SAML}" xmlns:xs="{XS}" xmlns:xsi="{XSI}"'
            f' ID="{s.assertion_id}" IssueInstant="{instant(s.now)}" Version="2.0">'
            f"<saml:Issuer>{escape(s.issuer)}</saml:Issuer>"
            f"{self._signature_template(s.assertion_id, key) if signed else ''}"
            f'<saml:Subject><saml:NameID Format="{TRANSIENT}">{escape(s.name_id)}</saml:NameID>'
            f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData{irt} NotOnOrAfter="{s.confirmation_deadline}"'
            f" Recipient={quoteattr(s.recipient or s.destination)}/>"
            f"</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(s.audience)}</saml:Audience>"
            f"</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{instant(s.now)}" SessionIndex="{new_id()}">'
            f"<saml:AuthnContext><saml:AuthnContextClassRef>{s.class_ref}"
            f"</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>{CARD}"
            f"</saml:AuthenticatingAuthority></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{_attributes(s.attributes)}</saml:AttributeStatement>"
            f"</saml:Assertion>"
        )
        return self.sign(xml, s.assertion_id, key) if signed else xml

    def encrypted(
        self, *assertions: str, data_alg: str = AES256_GCM, key_alg: str = RSA_OAEP_MGF1P
    ) -> str:
        """A saml:EncryptedAssertion that decrypts to `assertions`: one is encrypted as an
        Element, as IdPs do; several (an attack) as the element's Content. AES-256-GCM and
        RSA-OAEP unless `data_alg` and `key_alg` say otherwise."""
        kind = "Element" if len(assertions) == 1 else "Content"
        xml = f'<saml:EncryptedAssertion xmlns:saml="{SAML}">{"".join(assertions)}'
        xml += "</saml:EncryptedAssertion>"
        bits = re.search(r"aes(\d+)", data_alg)
        with tempfile.TemporaryDirectory(prefix="saml-forge-") as tmp:
            data = Path(tmp, "data.xml")
            data.write_text(xml, encoding="utf-8")
            return self._xmlsec(
                Path(tmp),
                self._encryption_template(kind, data_alg, key_alg),
                "--encrypt",
                "--pubkey-cert-pem",
                str(self.sp_cert),
                "--session-key",
                f"aes-{bits.group(1) if bits else 256}",
                "--node-xpath",
                "/*/*" if kind == "Element" else "/*",
                "--xml-data",
                str(data),
            )

    def response(
        self,
        s: Statement,
        body: str,
        *,
        signed: bool = True,
        key: KeyPair | None = None,
        extensions: str = "",
        response_id: str | None = None,
    ) -> str:
        """A samlp:Response around `body` (assertions, encrypted or not, as text)."""
        rid = response_id or s.response_id
        irt = f" InResponseTo={quoteattr(s.in_response_to)}" if s.in_response_to else ""
        xml = (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}"'
            f' Version="2.0" IssueInstant="{instant(s.now)}"'
            f" Destination={quoteattr(s.destination)}{irt}>"
            f"<saml:Issuer>{escape(s.issuer)}</saml:Issuer>"
            f"{self._signature_template(rid, key) if signed else ''}"
            f"{f'<samlp:Extensions>{extensions}</samlp:Extensions>' if extensions else ''}"
            f'<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>'
            f"{body}</samlp:Response>"
        )
        return self.sign(xml, rid, key) if signed else xml

    def sign(self, xml: str, element_id: str, key: KeyPair | None = None) -> str:
        """Fill in the signature template of the element with that ID (an enveloped one)."""
        pair = key or self.key
        with tempfile.TemporaryDirectory(prefix="saml-forge-") as tmp:
            return self._xmlsec(
                Path(tmp),
                xml,
                "--sign",
                "--privkey-pem",
                f"{pair.key_file},{pair.cert_file}",
                "--id-attr:ID",
                f"{SAML}:Assertion",
                "--id-attr:ID",
                f"{SAMLP}:Response",
                "--node-id",
                element_id,
            )

    def metadata(self, entity_id: str, sso_url: str) -> str:
        """The IdP's EntityDescriptor: its signing certificate and a HTTP-Redirect SSO."""
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
            f" entityID={quoteattr(entity_id)}>"
            f'<md:IDPSSODescriptor WantAuthnRequestsSigned="true"'
            f' protocolSupportEnumeration="{SAMLP}">'
            f'<md:KeyDescriptor use="signing">{_key_info(self.key)}</md:KeyDescriptor>'
            f"<md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>"
            f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"'
            f" Location={quoteattr(sso_url)}/>"
            f"</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def _signature_template(self, element_id: str, key: KeyPair | None) -> str:
        return (
            f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f'<ds:Reference URI="#{element_id}"><ds:Transforms>'
            f'<ds:Transform Algorithm="{DS}enveloped-signature"/>'
            f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'</ds:Transforms><ds:DigestMethod Algorithm="{XENC}sha256"/>'
            f"<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
            f"{_key_info(key or self.key)}</ds:Signature>"
        )

    def _encryption_template(self, kind: str, data_alg: str, key_alg: str) -> str:
        lines = self.sp_cert.read_text(encoding="ascii").strip().splitlines()
        cert = "".join(line for line in lines if not line.startswith("-----"))
        return (
            f'<xenc:EncryptedData xmlns:xenc="{XENC}" xmlns:ds="{DS}" Type="{XENC}{kind}">'
            f'<xenc:EncryptionMethod Algorithm="{data_alg}"/>'
            f"<ds:KeyInfo><xenc:EncryptedKey>"
            f'<xenc:EncryptionMethod Algorithm="{key_alg}"/>'
            f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>"
            f"</ds:X509Data></ds:KeyInfo>"
            f"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey>"
            f"</ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData>"
            f"</xenc:EncryptedData>"
        )

    def _xmlsec(self, tmp: Path, document: str, *options: str) -> str:
        """xmlsec1 `options` on `document` (the signature or encryption template)."""
        source, out = tmp / "in.xml", tmp / "out.xml"
        source.write_text(document, encoding="utf-8")
        command = [self.xmlsec, *options, "--output", str(out), str(source)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"xmlsec1 failed: {done.stderr[-2000:]}")
        return _DECLARATION_RE.sub("", out.read_text(encoding="utf-8")).strip()


def _attributes(values: Mapping[str, str]) -> str:
    return "".join(
        f'<saml:Attribute Name={quoteattr(name)} NameFormat="{URI_FORMAT}">'
        f'<saml:AttributeValue xsi:type="xs:string">{escape(value)}</saml:AttributeValue>'
        f"</saml:Attribute>"
        for name, value in values.items()
    )


def _key_info(key: KeyPair) -> str:
    body = "\n".join(textwrap.wrap(key.cert_base64(), 64))
    return (
        f'<ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>{body}'
        f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
    )


def encode(xml: str) -> str:
    """The SAMLResponse form value (HTTP-POST binding)."""
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")
