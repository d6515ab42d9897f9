"""The SAML HTTP-Redirect binding with DEFLATE encoding (SAML 2.0 Bindings §3.4), for single
logout: a message out, signed over its query string; a message in, decoded and checked against
the signature over its query string exactly as it was received.

pysaml2 is not used for either check: it rebuilds the signed string by URL-encoding the decoded
values again, which fails for a sender whose escapes differ (Bindings §3.4.4.1 requires the
original encoding; pysaml2 issue #957), and it checks no query-string signature on a
LogoutResponse at all. Signatures are RSA PKCS#1 v1.5: SHA-256 out; SHA-256, -384 or -512 in
(SHA-1 is refused).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote_plus, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["SIG_RSA_SHA256", "RedirectBindingError", "RedirectMessage", "decode", "encode"]

SIG_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DEFLATE_ENCODING: Final = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE"
MAX_QUERY_CHARS: Final = 32 * 1024
"""A query string longer than this is refused before anything is decoded."""
MAX_XML_BYTES: Final = 128 * 1024
"""The largest message accepted once inflated (a logout message is a few kilobytes)."""
MESSAGE_KINDS: Final = ("SAMLRequest", "SAMLResponse")
_ACCEPTED_ALGS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    SIG_RSA_SHA256: hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}


class RedirectBindingError(ValueError):
    """The query string is not a well-formed, signed HTTP-Redirect message, or its signature
    is not by any of the given certificates."""


@dataclass(frozen=True)
class RedirectMessage:
    """A received message, decoded but not yet trusted: `verify` it before reading `xml`."""

    kind: str  # "SAMLRequest" or "SAMLResponse"
    xml: bytes = field(repr=False)
    relay_state: str | None
    sig_alg: str
    signature: bytes = field(repr=False)
    signed: bytes = field(repr=False)
    """The octets the sender signed: the parameters as received, in the order of §3.4.4.1."""

    def verify(self, certificates: Iterable[str]) -> None:
        """RedirectBindingError unless one of the base64 DER certificates signed it."""
        algorithm = _ACCEPTED_ALGS[self.sig_alg]()
        for cert in certificates:
            key = _public_key(cert)
            try:
                key.verify(self.signature, self.signed, padding.PKCS1v15(), algorithm)
            except InvalidSignature:
                continue
            return
        raise RedirectBindingError("signature is not by the sender's metadata key")


def encode(
    location: str, kind: str, xml: str, relay_state: str | None, key: rsa.RSAPrivateKey
) -> str:
    """The URL that carries `xml` to `location`, signed with `key` (RSA-SHA256)."""
    deflater = zlib.compressobj(wbits=-15)
    deflated = deflater.compress(xml.encode("utf-8")) + deflater.flush()
    parts = [(kind, base64.b64encode(deflated).decode("ascii"))]
    if relay_state:
        parts.append(("RelayState", relay_state))
    parts.append(("SigAlg", SIG_RSA_SHA256))
    signed = "&".join(f"{name}={quote_plus(value)}" for name, value in parts)
    signature = key.sign(signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    glue = "&" if "?" in location else "?"
    encoded = quote_plus(base64.b64encode(signature).decode("ascii"))
    return f"{location}{glue}{signed}&Signature={encoded}"


def decode(raw_query: str) -> RedirectMessage:
    """The message in a query string as received (still URL-encoded)."""
    raw = _raw_parameters(raw_query)
    kinds = [kind for kind in MESSAGE_KINDS if kind in raw]
    if len(kinds) != 1:
        raise RedirectBindingError("not exactly one SAMLRequest or SAMLResponse")
    kind = kinds[0]
    if unquote_plus(raw.get("SAMLEncoding", quote_plus(DEFLATE_ENCODING))) != DEFLATE_ENCODING:
        raise RedirectBindingError("SAMLEncoding is not DEFLATE")
    if "SigAlg" not in raw or "Signature" not in raw:
        raise RedirectBindingError("message is not signed")
    sig_alg = unquote_plus(raw["SigAlg"])
    if sig_alg not in _ACCEPTED_ALGS:
        raise RedirectBindingError("SigAlg is not RSA-SHA256, -384 or -512")
    order = (kind, "RelayState", "SigAlg")
    signed = "&".join(f"{name}={raw[name]}" for name in order if name in raw)
    relay_state = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
    return RedirectMessage(
        kind=kind,
        xml=_inflate(_base64(unquote_plus(raw[kind]))),
        relay_state=relay_state,
        sig_alg=sig_alg,
        signature=_base64(unquote_plus(raw["Signature"])),
        signed=signed.encode("ascii"),
    )


def _raw_parameters(raw_query: str) -> dict[str, str]:
    """Name → value still URL-encoded; a repeated name is refused."""
    if len(raw_query) > MAX_QUERY_CHARS:
        raise RedirectBindingError("query string too long")
    if not raw_query.isascii():
        raise RedirectBindingError("query string is not URL-encoded")
    found: dict[str, str] = {}
    for part in filter(None, raw_query.split("&")):
        name, _, value = part.partition("=")
        name = unquote_plus(name)
        if name in found:
            raise RedirectBindingError(f"{name} repeated")
        found[name] = value
    return found


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RedirectBindingError("parameter is not base64") from exc


def _inflate(deflated: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=-15)
    try:
        xml = inflater.decompress(deflated, MAX_XML_BYTES)
    except zlib.error as exc:
        raise RedirectBindingError("message is not DEFLATE-compressed") from exc
    if not inflater.eof:  # stopped at the limit (input may be left, or output only), or cut short
        if len(xml) >= MAX_XML_BYTES:
            raise RedirectBindingError("message too large")
        raise RedirectBindingError("message is not DEFLATE-compressed (cut short)")
    return xml


def _public_key(cert_base64: str) -> rsa.RSAPublicKey:
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_base64.split())))
    except (binascii.Error, ValueError) as exc:
        raise RedirectBindingError("unreadable certificate in the sender's metadata") from exc
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise RedirectBindingError("the sender's metadata key is not RSA")
    return key
